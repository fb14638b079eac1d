"""Alignment on real LFW images (resume, log) and the packaged demo."""

import csv

import numpy as np
from PIL import Image

from srfacebench.data.align import align_files
from srfacebench.demo import demo_data_root, run_demo


def test_align_resumes_and_logs(data_root, tmp_path):
    src = data_root / "lfw" / "lfw-deepfunneled"
    rels = ["Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "George_W_Bush/George_W_Bush_0001.jpg"]
    blank = tmp_path / "src"
    (blank / "Nobody").mkdir(parents=True)
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(blank / "Nobody" / "Nobody_0001.jpg")
    counts = align_files(src, rels, tmp_path / "dst", size=160, progress=False)
    assert counts["detected"] == 2 and counts["fallback"] == 0
    chip = np.asarray(Image.open(tmp_path / "dst" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.png"))
    assert chip.shape == (160, 160, 3)
    again = align_files(src, rels, tmp_path / "dst", size=160, progress=False)
    assert again["already_aligned"] == 2 and again["detected"] == 0
    # A face-less image is aligned by the documented fallback and logged, not dropped.
    counts = align_files(blank, ["Nobody/Nobody_0001.jpg"], tmp_path / "dst2", size=160, progress=False)
    assert counts["fallback"] == 1 and (tmp_path / "dst2" / "Nobody" / "Nobody_0001.png").is_file()
    rows = list(csv.DictReader((tmp_path / "dst2" / "align_log.csv").open()))
    assert rows == [
        {
            "path": "Nobody/Nobody_0001.jpg",
            "status": "fallback",
            "faces_found": "0",
            "action": "landmarks predicted in the fixed centre box FALLBACK_BOX",
            "source": str(blank / "Nobody" / "Nobody_0001.jpg"),
        }
    ]


def test_demo_runs_offline(tmp_path, session_cache):
    assert (demo_data_root() / "lfw" / "pairs.txt").is_file()
    res = run_demo(out=tmp_path / "demo", cache_dir=session_cache, progress=False)
    df = res.to_frame()
    acc = df[df.metric == "accuracy"].set_index(["model", "scale"])["value"]
    assert acc[("hr", 1)] >= 0.9 and acc[("hr", 1)] >= acc[("bicubic", 8)]
    assert (tmp_path / "demo" / "pairs.csv").is_file()
