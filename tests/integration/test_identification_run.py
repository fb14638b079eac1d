"""Identification on real faces: CelebA (the paper's rule on the split we have) and LFW people,
every number recomputed from probes.csv / images.csv; kill-and-resume gives identical results."""

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict

import numpy as np
import pytest

from srfacebench.data.identity import load_celeba, load_identity_folder
from srfacebench.engine import evaluate

CELEBA_TRAIN = """
name = "celeba-train-identification"
version = "test"
task = "identification"
main_score = "knn1_accuracy"
[dataset]
name = "celeba-train"
loader = "celeba"
root = "celeba"
images = "img"
split = "train"
images_per_identity = 30
[metrics]
knn1_accuracy = { higher_is_better = true }
knn5_accuracy = { higher_is_better = true }
knn10_accuracy = { higher_is_better = true }
rank1 = { higher_is_better = true }
rank5 = { higher_is_better = true }
"fnir@fpir=0.1" = { higher_is_better = false }
psnr_y = { higher_is_better = true }
ssim_y = { higher_is_better = true }
fr_loss = { higher_is_better = false }
"""

LFW_SMALL = """
name = "lfw-identification-small"
version = "test"
task = "identification"
main_score = "rank1"
[dataset]
name = "lfw"
loader = "identity-folder"
root = "lfw"
images = "lfw-deepfunneled"
min_images = 40
max_images = 60
[metrics]
knn1_accuracy = { higher_is_better = true }
rank1 = { higher_is_better = true }
psnr_y = { higher_is_better = true }
"""


def read_csv(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_celeba_loader_applies_the_rule(data_root):
    fs = load_celeba(data_root / "celeba", split="train", images_per_identity=30)
    assert len(fs.identities) == 33 and len(fs) == 990
    assert Counter(fs.labels.tolist()) == dict.fromkeys(range(33), 30)
    with pytest.raises(Exception, match="only 0 identities match 'exactly 30 images' in split 'test'"):
        load_celeba(data_root / "celeba", split="test")


def test_identity_folder_rule(data_root):
    fs = load_identity_folder(data_root / "lfw", images="lfw-deepfunneled", min_images=20, max_images=30)
    assert len(fs.identities) == 30 and len(fs) == 713


@pytest.fixture(scope="module")
def celeba_run(data_root, session_cache, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("celeba")
    proto = tmp / "celeba-train-identification.toml"
    proto.write_text(CELEBA_TRAIN)
    out = tmp / "out"
    evaluate(["bicubic", "srfacebench.adapters.template"], [str(proto)], [4, 8], out, data_root=data_root,
             cache_dir=session_cache, progress=False)  # fmt: skip
    return out


def test_celeba_numbers_recompute_and_order(celeba_run):
    results = {
        (r["model"], int(r["scale"]), r["metric"]): float(r["value"]) for r in read_csv(celeba_run / "results.csv")
    }
    probes = defaultdict(list)
    for r in read_csv(celeba_run / "probes.csv"):
        probes[(r["model"], int(r["scale"]))].append(r)
    for key, rows in probes.items():
        assert len(rows) == 990
        ranks = np.array([int(r["rank"]) for r in rows])
        assert results[(*key, "rank1")] == pytest.approx(np.mean(ranks == 1), abs=1e-12)
        assert results[(*key, "rank5")] == pytest.approx(np.mean((ranks >= 1) & (ranks <= 5)), abs=1e-12)
        for k in (1, 5, 10):
            acc = np.mean([r[f"knn{k}"] == r["identity"] for r in rows])
            assert results[(*key, f"knn{k}_accuracy")] == pytest.approx(acc, abs=1e-12)
    images = defaultdict(list)
    for r in read_csv(celeba_run / "images.csv"):
        images[(r["model"], int(r["scale"]))].append(r)
    for key, rows in images.items():
        for m in ("psnr_y", "ssim_y", "fr_loss"):
            assert results[(*key, m)] == pytest.approx(np.mean([float(r[m]) for r in rows]), abs=1e-9)
    r1 = {k: results[(*k, "rank1")] for k in probes}
    # 4x bicubic barely hurts dlib's 150-pixel network here (HR and 4x differ by a few probes out of
    # 990, either way); 8x clearly does.
    assert r1[("hr", 1)] > r1[("bicubic", 8)] + 0.02 and r1[("bicubic", 4)] > r1[("bicubic", 8)] + 0.02
    assert abs(r1[("hr", 1)] - r1[("bicubic", 4)]) < 0.02
    assert results[("bicubic", 4, "psnr_y")] > results[("bicubic", 8, "psnr_y")]
    assert results[("bicubic", 4, "fr_loss")] < results[("bicubic", 8, "fr_loss")]
    assert ("hr", 1, "psnr_y") not in results  # documented: PSNR of HR against itself is omitted
    html = (celeba_run / "report.html").read_text()
    assert "celeba-train-identification (dlib-resnet29): CMC curves" in html and "McNemar exact" in html
    assert html.count("data:image/png;base64,") >= 4 + 9  # 2 CMC plots per scale, metric bars


def test_kill_and_resume_gives_identical_results(data_root, session_cache, tmp_path, celeba_run):
    proto = tmp_path / "lfw-identification-small.toml"
    proto.write_text(LFW_SMALL)
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "srfacebench.cli", "run", "--model", "bicubic", "--protocol", str(proto),
            "--scale", "4", "--out", str(out), "--data-root", str(data_root), "--cache-dir", str(session_cache),
            "--no-progress", "--batch-size", "16"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    shards = out / "cache" / "embeddings"
    while time.time() < deadline and not list(shards.glob("*/shard-00000.npy")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.csv").exists(), "the run finished before it could be killed"
    assert subprocess.run(args, capture_output=True).returncode == 0
    resumed = (out / "results.csv").read_text()
    fresh = tmp_path / "fresh"
    evaluate(["bicubic"], [str(proto)], [4], fresh, data_root=data_root, cache_dir=session_cache, progress=False,
             batch_size=16)  # fmt: skip
    assert resumed == (fresh / "results.csv").read_text()
    assert (out / "probes.csv").read_text() == (fresh / "probes.csv").read_text()
