"""The fault suite: what a hostile but fair user tried, each ending in a right number or a one-line
error naming the culprit (exit 2), with nothing computed lost."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srfacebench import ModelInfo
from srfacebench.cli import main
from srfacebench.data.images import read_rgb
from srfacebench.engine import evaluate
from srfacebench.errors import DataError, ModelError, ProtocolError
from srfacebench.io import RunLock
from srfacebench.protocols import parse_protocol


class Up:
    """A bilinear up-scaler with a configurable misbehaviour."""

    def __init__(self, name: str, mode: str = "ok") -> None:
        self.info = ModelInfo(name=name, weights_sha256="0" * 64)
        self.mode = mode
        self.calls = 0

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False).clamp(0, 1)
        if self.mode == "inplace":
            lr.mul_(0.0)
        elif self.mode == "x255":
            out = out * 255
        elif self.mode == "uint8":
            out = (out * 255).round().to(torch.uint8)
        elif self.mode == "noisy":
            out = (out + 0.01 * torch.rand_like(out)).clamp(0, 1)
        elif self.mode == "batchnorm":
            out = (out - out.mean() + 0.5).clamp(0, 1)
        return out


def run(tiny, out, models, **kw):
    kw = dict(data_root=tiny["data_root"], cache_dir=tiny["cache"], progress=False, report=False) | kw
    return evaluate(models, [str(tiny["protocol"])], [4], out, **kw)


def value(res, model, metric="psnr_y"):
    return next(r.value for r in res.rows if r.model == model and r.metric == metric)


def cli(tiny, tmp_path, *args):
    base = ["run", "--protocol", str(tiny["protocol"]), "--data-root", str(tiny["data_root"]),
            "--cache-dir", str(tiny["cache"]), "--no-progress", "--no-report"]  # fmt: skip
    if "--out" not in args:
        base += ["--out", str(tmp_path / "cli-out")]
    if "--scale" not in args and "--degradation" not in args:
        base += ["--scale", "4"]
    return main([*base, *args])


PROTOCOL = """
name = "tiny-verification"
version = "0.1"
task = "verification"
main_score = "accuracy"
[dataset]
name = "tiny"
loader = "lfw-pairs"
root = "tiny"
images = "imgs"
pairs = "pairs.txt"
[metrics]
accuracy = {}
auc = {}
psnr_y = {}
"""

PEOPLE = ["Ann_A", "Bob_B", "Cid_C", "Dee_D"]
PAIRS = ["2\t2", "Ann_A\t1\t2", "Bob_B\t1\t2", "Ann_A\t1\tBob_B\t2", "Cid_C\t1\tDee_D\t1",
         "Cid_C\t1\t2", "Dee_D\t1\t2", "Ann_A\t2\tDee_D\t2", "Bob_B\t1\tCid_C\t2"]  # fmt: skip


def make_image(seed: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * x + seed), np.cos(5 * y - seed), np.sin(4 * (x + y))], -1) * 0.4 + 0.5
    return (np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "data" / "tiny"
    for k, p in enumerate(PEOPLE):
        (root / "imgs" / p).mkdir(parents=True)
        for i in (1, 2):
            Image.fromarray(make_image(10 * k + i)).save(root / "imgs" / p / f"{p}_{i:04d}.jpg", quality=95)
    (root / "pairs.txt").write_text("\n".join(PAIRS) + "\n")
    proto = tmp_path / "tiny.toml"
    proto.write_text(PROTOCOL)
    return {"data_root": tmp_path / "data", "protocol": proto, "root": root, "cache": tmp_path / "cache"}


# --- silently wrong results -------------------------------------------------------------------


def test_replaced_image_changes_the_numbers(tiny, tmp_path):
    first = run(tiny, tmp_path / "a", [])
    target = tiny["root"] / "imgs" / "Ann_A" / "Ann_A_0001.jpg"
    Image.fromarray(255 - read_rgb(target)).save(target, quality=95)  # same path, new content
    second = run(tiny, tmp_path / "b", [])
    assert value(second, "bicubic") != value(first, "bicubic")
    again = run(tiny, tmp_path / "c", [])  # and the new numbers are stable
    assert value(again, "bicubic") == value(second, "bicubic")


def test_changed_weights_at_the_same_path_change_the_numbers(tiny, tmp_path, monkeypatch):
    pkg = tmp_path / "mods"
    pkg.mkdir()
    (pkg / "weighted_model.py").write_text(
        textwrap.dedent(f"""
        import torch, torch.nn.functional as F
        from srfacebench import ModelInfo
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.gain = torch.nn.Parameter(torch.ones(1))
                self.info = ModelInfo(name="weighted")  # weights_sha256 left None, as the template does
            def forward(self, lr):
                return (F.interpolate(lr, scale_factor=4, mode="bilinear") * self.gain).clamp(0, 1)
        def load(scale, device="cpu", **kw):
            net = Net()
            net.load_state_dict(torch.load(r"{tmp_path / "w.pt"}", weights_only=True))
            return net.eval()
    """)
    )
    monkeypatch.syspath_prepend(str(pkg))
    torch.save({"gain": torch.ones(1)}, tmp_path / "w.pt")
    a = run(tiny, tmp_path / "a", ["weighted_model"])
    torch.save({"gain": torch.full((1,), 0.5)}, tmp_path / "w.pt")
    b = run(tiny, tmp_path / "a", ["weighted_model"])  # same folder, same cache
    assert value(b, "weighted") < value(a, "weighted") - 1.0
    sys.modules.pop("weighted_model", None)


def test_a_model_editing_its_input_cannot_change_another_models_numbers(tiny, tmp_path):
    alone = run(tiny, tmp_path / "a", [Up("innocent")])
    with pytest.raises(ModelError, match="edits its input tensor in place"):
        run(tiny, tmp_path / "b", [Up("editor", "inplace"), Up("innocent")])
    both = run(tiny, tmp_path / "c", [Up("editor", "inplace"), Up("innocent")], lenient=True)
    assert value(both, "innocent") == value(alone, "innocent")
    prov = json.loads((tmp_path / "c" / "results.json").read_text())["provenance"]
    assert any("editor" in n and "in place" in n for n in prov["notes"])


@pytest.mark.parametrize(("mode", "message"), [("x255", "looks like 0..255"), ("uint8", "dtype torch.uint8")])
def test_output_in_0_255_is_an_error_not_a_clamp(tiny, tmp_path, mode, message):
    with pytest.raises(ModelError, match=message):
        run(tiny, tmp_path / "o", [Up("bad", mode)])


def test_nondeterministic_model_is_refused_unless_lenient(tiny, tmp_path):
    with pytest.raises(ModelError, match="not deterministic"):
        run(tiny, tmp_path / "a", [Up("noisy", "noisy")])
    res = run(tiny, tmp_path / "b", [Up("noisy", "noisy")], lenient=True)
    assert any("not deterministic" in n for n in res.provenance["notes"])


def test_batch_dependent_model_is_keyed_by_batch_size(tiny, tmp_path):
    with pytest.raises(ModelError, match="depends on the batch"):
        run(tiny, tmp_path / "a", [Up("bn", "batchnorm")])
    a = run(tiny, tmp_path / "b", [Up("bn", "batchnorm")], lenient=True, batch_size=8)
    b = run(tiny, tmp_path / "b", [Up("bn", "batchnorm")], lenient=True, batch_size=2)
    assert value(a, "bn") != value(b, "bn")  # recomputed for the new batch size, not served stale
    assert b.provenance["conformance"]["bn@x4"]["batch_invariant"] is False


def test_a_user_model_named_hr_is_refused(tiny, tmp_path):
    with pytest.raises(ModelError, match="named 'hr'"):
        run(tiny, tmp_path / "o", [Up("hr")])


# --- images ----------------------------------------------------------------------------------


def test_corrupt_jpeg_that_pillow_decodes_is_an_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(buf, "JPEG")
    orig = buf.getvalue()
    silent = []
    for start in range(400, len(orig) - 400, 97):
        data = bytearray(orig)
        for i in range(start, start + 400):
            data[i] ^= 0xFF
        try:
            with Image.open(io.BytesIO(bytes(data))) as im:
                im.load()
            silent.append(bytes(data))
        except OSError:
            pass
    assert silent, "no corruption that Pillow decodes silently was found"
    for k, data in enumerate(silent):
        path = tmp_path / f"c{k}.jpg"
        path.write_bytes(data)
        with pytest.raises(DataError, match=f"c{k}.jpg: corrupt JPEG"):
            read_rgb(path)


def test_16_bit_greyscale_png_is_scaled_not_clipped(tmp_path):
    g = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(g).save(tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode.startswith("I")
    rgb = read_rgb(tmp_path / "g.png")
    expected = np.round(g / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(rgb[..., 0], expected)
    assert rgb.mean() < 200  # an all-white chip was the fault


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((40, 60, 3), np.uint8)
    img[:10, :20] = 255  # a bright block top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(img).save(tmp_path / "o.jpg", quality=95, exif=exif)
    out = read_rgb(tmp_path / "o.jpg")
    assert out.shape == (60, 40, 3)
    assert out[:10, -10:].mean() > 200 and out[-10:, :10].mean() < 50  # the block is now top-right


def test_same_stem_files_get_their_own_chips(tmp_path):
    from srfacebench.data.chips import ensure_aligned
    from srfacebench.data.faceset import FaceSet

    root = tmp_path / "imgs" / "P"
    root.mkdir(parents=True)
    Image.fromarray(np.full((64, 64, 3), 40, np.uint8)).save(root / "x.jpg")
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(root / "x.png")
    fs = FaceSet("s", tmp_path / "imgs", ["P/x.jpg", "P/x.png"], np.zeros(2, np.int64), ["P"])
    aligned = ensure_aligned(fs, tmp_path / "cache", 64, 0.25, workers=1, progress=False)
    assert aligned.names[0] != aligned.names[1]
    assert sorted(aligned.fallback) == ["P/x.jpg", "P/x.png"]  # no face: counted, not hidden


def test_symlinked_identity_folders_are_followed(tmp_path):
    from srfacebench.data.identity import load_identity_folder

    real = tmp_path / "elsewhere" / "Eve_E"
    real.mkdir(parents=True)
    for i in (1, 2):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(real / f"Eve_E_{i:04d}.jpg")
    (tmp_path / "faces" / "Ann_A").mkdir(parents=True)
    for i in (1, 2):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "faces" / "Ann_A" / f"Ann_A_{i:04d}.jpg")
    os.symlink(real, tmp_path / "faces" / "Eve_E")
    fs = load_identity_folder(tmp_path / "faces")
    assert fs.identities == ["Ann_A", "Eve_E"] and len(fs) == 4


def test_faceless_images_are_counted_and_reported(tiny, tmp_path, capsys):
    assert cli(tiny, tmp_path) == 0
    err = capsys.readouterr().err
    assert "8 of 8 images of tiny had no face found" in err
    prov = json.loads((tmp_path / "cli-out" / "results.json").read_text())["provenance"]
    assert prov["alignment"]["tiny"]["fallback_in_pool"] == 8
    from srfacebench.report import build_report

    build_report([tmp_path / "cli-out"], tmp_path / "r.html", n_boot=10)
    assert "8 of 8 images of tiny had no face found" in (tmp_path / "r.html").read_text()


# --- protocols and paths -----------------------------------------------------------------------

BASE = 'name = "p"\nversion = "1"\nmain_score = "accuracy"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BASE + 'task = "verification"\n[dataset]\nname="d"\nloader="lfw-pairs"\nroot="x"\n[metrics]\naccuracy={}\n'
            "[identifcation]\nks=[1]\n",
            "unknown key 'identifcation'",
        ),
        (
            BASE + 'task = "verification"\n[dataset]\nname="d"\nloader="lfw-pairs"\nroot="x"\nimagez="y"\n'
            "[metrics]\naccuracy={}\n",
            "unknown key 'imagez' (did you mean 'images'?)",
        ),
        (
            BASE.replace("accuracy", "rank9")
            + 'task = "identification"\n[dataset]\nname="d"\nloader="identity-folder"\n'
            'root="x"\n[metrics]\nrank1={}\n',
            "main_score 'rank9' is not among the metrics",
        ),
        (
            BASE.replace("accuracy", "rank1")
            + 'task = "identification"\n[dataset]\nname="d"\nloader="identity-folder"\n'
            'root="x"\nmin_images=1\n[metrics]\nrank1={}\n',
            "identification needs at least 2",
        ),
        (
            BASE + 'task = "verification"\n[dataset]\nname="d"\nloader="lfw-pairs"\nroot="x"\n[alignment]\n'
            'size="large"\n[metrics]\naccuracy={}\n',
            "size must be an integer",
        ),
        (
            BASE + 'task = "verification"\n[dataset]\nname="../../x"\nloader="lfw-pairs"\nroot="x"\n'
            "[metrics]\naccuracy={}\n",
            "name '../../x' must be letters",
        ),
    ],
)
def test_protocol_mistakes_are_errors_at_load(text, message):
    with pytest.raises(ProtocolError, match=re.escape(message)):
        parse_protocol(text, "p.toml")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('root = "tiny"', 'root = "../../../../etc"'), "leaves the data root"),
        (('pairs = "pairs.txt"', 'pairs = "/etc/passwd"'), "leaves the data root"),
        (('images = "imgs"', 'images = "../../outside"'), "leaves the data root"),
    ],
)
def test_protocol_paths_cannot_leave_the_data_root(tiny, tmp_path, capsys, edit, message):
    tiny["protocol"].write_text(tiny["protocol"].read_text().replace(*edit))
    assert cli(tiny, tmp_path) == 2
    err = capsys.readouterr().err
    assert message in err and "root:" not in err  # nothing read from outside is echoed


def test_pairs_names_cannot_leave_the_image_folder(tiny, tmp_path, capsys):
    pairs = tiny["root"] / "pairs.txt"
    pairs.write_text(pairs.read_text().replace("Ann_A\t1\t2", "../../../outside/x\t1\t2", 1))
    assert cli(tiny, tmp_path) == 2
    assert "pairs.txt:2: person name '../../../outside/x' is not a plain folder name" in capsys.readouterr().err


def test_report_reads_only_files_inside_the_run_folder(tiny, tmp_path, capsys):
    assert cli(tiny, tmp_path, "--out", str(tmp_path / "r")) == 0
    (tmp_path / "r" / "samples").mkdir(exist_ok=True)
    manifest = {"entries": [{"file": "/etc/hostname", "model": "hr", "kind": "hr", "scale": 1, "image": "x"}]}
    (tmp_path / "r" / "samples" / "samples.json").write_text(json.dumps(manifest))
    assert main(["report", str(tmp_path / "r"), "-o", str(tmp_path / "x.html")]) == 2
    assert "is not a PNG inside" in capsys.readouterr().err


# --- one line and exit 2, before the expensive work ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "3"], "not divisible by the scale 3"),
        (["--batch-size", "0"], "batch_size must be a positive integer"),
        (["--device", "foo"], "device must be cpu"),
        (["--device", "cuda"], "sees no CUDA device"),
        (["--degradation", "bicubic:4+jpeg:q=0"], "q must be in 1..95"),
    ],
)
def test_bad_options_fail_in_one_line_before_any_work(tiny, tmp_path, capsys, args, message):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert cli(tiny, tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not tiny["cache"].exists()


def test_one_fold_pairs_file_fails_before_aligning(tiny, tmp_path, capsys):
    pairs = tiny["root"] / "pairs.txt"
    lines = pairs.read_text().splitlines()
    pairs.write_text("\n".join(["2", *lines[1:5]]) + "\n")  # pairsDevTrain-style header: one fold of 2 + 2
    assert cli(tiny, tmp_path) == 2
    assert "needs at least 2" in capsys.readouterr().err
    assert not tiny["cache"].exists()


def test_non_utf8_pairs_file(tiny, tmp_path, capsys):
    (tiny["root"] / "pairs.txt").write_bytes(b"2\t2\n\xff\xfe\n")
    assert cli(tiny, tmp_path) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_bad_sort_column_is_one_line(tiny, tmp_path, capsys):
    assert cli(tiny, tmp_path, "--out", str(tmp_path / "r")) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "r"), "-o", str(tmp_path / "x.html"), "--sort-by", "nope/metric"]) == 2
    assert "cannot sort by 'nope/metric'" in capsys.readouterr().err


def test_disk_errors_are_one_line_with_the_path(tiny, tmp_path, capsys, monkeypatch):
    import srfacebench.io as sio

    def full(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "cli-out" / "results.json"))

    monkeypatch.setattr(sio.os, "replace", full)
    assert cli(tiny, tmp_path) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "results.json" in err and "Traceback" not in err


# --- the run lock ------------------------------------------------------------------------------


def test_a_busy_run_folder_is_refused_and_a_stale_lock_taken_over(tiny, tmp_path, capsys):
    import subprocess

    out = tmp_path / "o"
    out.mkdir()
    holder = subprocess.Popen(  # a live process holds the lock
        [sys.executable, "-c", "import sys, time; from srfacebench.io import RunLock; l = RunLock(sys.argv[1]); "
         "l.acquire(); print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cli(tiny, tmp_path, "--out", str(out)) == 2
        assert f"another srfacebench run (pid {holder.pid})" in capsys.readouterr().err
    finally:
        holder.kill()  # kill -9: the kernel releases its lock
        holder.wait()
    assert (out / RunLock.NAME).read_text() == str(holder.pid)  # what a killed run leaves
    assert cli(tiny, tmp_path, "--out", str(out)) == 0
    assert (out / RunLock.NAME).read_text() == ""  # released


def test_faceless_images_can_be_excluded_with_their_pairs(tmp_path):
    import shutil

    from srfacebench.demo import demo_data_root

    root = tmp_path / "demo"
    shutil.copytree(demo_data_root(), root)
    proto = root / "lfw-verification-demo.toml"
    text = proto.read_text().replace("padding = 0.25", "padding = 0.25\nexclude_fallback = true")
    text = "\n".join(line for line in text.splitlines() if 'pairs.txt" = ' not in line)  # the pairs file changes
    proto.write_text(text)
    first = (root / "lfw" / "pairs.txt").read_text().splitlines()[1].split()
    target = root / "lfw" / "lfw-deepfunneled" / first[0] / f"{first[0]}_{int(first[1]):04d}.jpg"
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(target)
    res = evaluate([], [str(proto)], [4], tmp_path / "o", data_root=root, cache_dir=tmp_path / "cache",
                   progress=False, report=False)  # fmt: skip
    from srfacebench.data.lfw import load_lfw_pairs

    fs = load_lfw_pairs(root / "lfw")
    faceless = set(res.provenance["alignment"]["lfw-demo"]["fallback_images"])
    rel = f"{first[0]}/{first[0]}_{int(first[1]):04d}.jpg"
    assert rel in faceless
    touching = sum(
        fs.paths[a] in faceless or fs.paths[b] in faceless for a, b in zip(fs.pairs.a, fs.pairs.b, strict=True)
    )
    assert touching >= 1
    assert {r.n for r in res.rows if r.metric == "accuracy"} == {len(fs.pairs) - touching}
    assert any("excluded" in note for note in res.provenance["notes"])


# --- runs whose data cannot be scored: one line before the work ----------------------------------


def test_a_scale_that_leaves_no_pixels_for_ssim_fails_before_any_work(tiny, tmp_path, capsys):
    # 160-pixel chips at x80: 160 % 80 == 0, but the crop of 80 per side leaves nothing to measure.
    assert cli(tiny, tmp_path, "--degradation", "bicubic:80") == 2
    err = capsys.readouterr().err
    assert "leaving 0 where SSIM needs 11" in err and "at most 74" in err and err.count("\n") == 1
    assert not tiny["cache"].exists()
    assert cli(tiny, tmp_path, "--scale", "40") == 0  # the largest divisor of 160 below the bound runs


IDENT = """
name = "tiny-identification"
version = "0.1"
task = "identification"
main_score = "rank1"
[dataset]
name = "tiny-ids"
loader = "identity-folder"
root = "tiny"
images = "imgs"
[identification]
ks = [1, 3]
max_rank = 3
[metrics]
rank1 = {}
"""


@pytest.mark.parametrize(("limit", "message"), [("3", "after --limit 3.*: 3 identities .* at least 4"), ("5", "")])
def test_identification_too_small_for_open_set_fails_before_any_work(tiny, tmp_path, capsys, limit, message):
    proto = tmp_path / "ident.toml"
    proto.write_text(IDENT)
    code = main(["run", "--protocol", str(proto), "--data-root", str(tiny["data_root"]), "--cache-dir",
                 str(tiny["cache"]), "--no-progress", "--no-report", "--scale", "4", "--limit", limit,
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    if message:
        assert code == 2 and re.search(message, err) and err.count("\n") == 1
        assert not tiny["cache"].exists()
    else:  # 4 identities (all there are): scored
        assert code == 0, err
        assert (tmp_path / "o" / "probes.csv").read_text().count("\n") > 1


def test_exclude_fallback_emptying_folds_fails_before_embedding(tiny, tmp_path, capsys):
    # The tiny faces are noise to the detector: every image is aligned by the fallback box, so
    # excluding them would leave both folds without pairs.
    tiny["protocol"].write_text(PROTOCOL + "[alignment]\nexclude_fallback = true\n")
    assert cli(tiny, tmp_path) == 2
    err = capsys.readouterr().err
    assert "leaves fold(s) 1, 2 without pairs" in err and err.count("\n") == 1
    assert not (tmp_path / "cli-out" / "cache").exists()  # nothing super-resolved or embedded


@pytest.mark.parametrize(("fmt", "side"), [("PNG", 12_000), ("PNG", 20_000), ("JPEG", 12_000)])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, fmt, side):
    # A 1-bit PNG of 12,000² (144 MP: Pillow only warns) or 20,000² pixels (400 MP: Pillow raises)
    # is a few kB on disk; a flat JPEG of 12,000² is small too. None may be decoded.
    from srfacebench.data.images import read_rgb

    path = tmp_path / f"bomb.{fmt.lower()}"
    Image.new("1" if fmt == "PNG" else "L", (side, side)).save(path, fmt)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(DataError, match=rf"bomb\.{fmt.lower()}: .*(exceeds the 89\.5 MP limit|decompression bomb)"):
        read_rgb(path)


VANDAL = """
from srfacebench.embedders.dlib_resnet import DlibResNet29


class Vandal(DlibResNet29):
    name = "vandal"

    def forward(self, x):
        out = super().forward(x)
        x.mul_(0.0).add_(0.5)  # edits the batch it was given, after embedding it
        return out
"""


def test_an_fr_network_editing_its_input_cannot_change_other_numbers(tiny, tmp_path, monkeypatch):
    (tmp_path / "vandal_fr.py").write_text(VANDAL + "\nEMBEDDER = Vandal\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # an FR network from a module path: --fr vandal_fr
    alone = run(tiny, tmp_path / "a", [Up("innocent")])
    with pytest.raises(ModelError, match="FR network 'vandal_fr' failed the conformance probe: edits its input"):
        run(tiny, tmp_path / "b", [Up("innocent")], embedders=["vandal_fr", "dlib-resnet29"])
    both = run(tiny, tmp_path / "b", [Up("innocent")], embedders=["vandal_fr", "dlib-resnet29"], lenient=True)
    assert any("'vandal_fr'" in n and "in place" in n for n in both.provenance["notes"])
    assert both.provenance["conformance"]["fr:vandal_fr"]["input_untouched"] is False
    for model in ("innocent", "bicubic"):
        for metric in ("psnr_y", "accuracy"):
            mine = [r.value for r in both.rows if r.model == model and r.metric == metric and r.embedder != "vandal_fr"]
            assert mine == [value(alone, model, metric)]


def test_a_model_that_fails_to_load_leaves_no_empty_run_folder(tiny, tmp_path):
    def broken(scale, device="cpu"):
        raise RuntimeError("weights do not fit")

    out = tmp_path / "never"
    with pytest.raises(ModelError, match="weights do not fit"):
        run(tiny, out, [broken])
    assert not out.exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "mine.txt").write_text("x")
    with pytest.raises(ModelError):
        run(tiny, existing, [broken])
    assert (existing / "mine.txt").read_text() == "x"  # a folder the run did not create is left alone
