"""End to end on a tiny synthetic set: outputs, resume, and every bad input's one-line error."""

import csv
import json
import os
import stat

import numpy as np
import pytest

from srfacebench.cli import main
from srfacebench.engine import evaluate
from srfacebench.results import RESULT_COLUMNS, RunResult


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def base_args(tiny_data, tmp_path):
    data_root, proto = tiny_data
    return [
        "run",
        "--protocol",
        str(proto),
        "--scale",
        "4",
        "--data-root",
        str(data_root),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
    ]


def test_outputs_and_resume(tiny_data, tmp_path, adapters_path):
    data_root, proto = tiny_data
    out = tmp_path / "out"
    kw = dict(data_root=data_root, cache_dir=tmp_path / "cache", progress=False)
    res = evaluate(["good_adapter"], [str(proto)], [4, 8], out, **kw)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert list(rows[0]) == RESULT_COLUMNS
    assert {(r["model"], r["scale"]) for r in rows} == {
        ("hr", "1"),
        ("bicubic", "4"),
        ("bicubic", "8"),
        ("nearest-test", "4"),
        ("nearest-test", "8"),
    }
    pairs = list(csv.DictReader((out / "pairs.csv").open()))
    assert len(pairs) == 5 * 8
    prov = json.loads((out / "results.json").read_text())["provenance"]
    assert prov["version"] and prov["embedder"]["name"] == "dlib-resnet29" and "timings_s" in prov
    assert RunResult.load(out).rows == res.rows
    # Second run: every shard is cached, so nothing is recomputed and the numbers are identical.
    shard_times = {p: p.stat().st_mtime_ns for p in (out / "cache").rglob("*.npy")}
    res2 = evaluate(["good_adapter"], [str(proto)], [4, 8], out, **kw)
    assert res2.rows == res.rows
    assert {p: p.stat().st_mtime_ns for p in (out / "cache").rglob("*.npy")} == shard_times
    # Losing one shard recomputes only that one, with the same values (eval mode, deterministic).
    victim = sorted(shard_times)[0]
    before = np.load(victim)
    victim.unlink()
    evaluate(["good_adapter"], [str(proto)], [4, 8], out, **kw)
    np.testing.assert_allclose(np.load(victim), before, atol=1e-6)


def test_unknown_model(base_args, capsys):
    code, _, err = run_cli([*base_args, "--out", "x", "--model", "bicubc"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "unknown model 'bicubc' (did you mean 'bicubic'" in err


def test_unknown_protocol(tmp_path, capsys):
    code, _, err = run_cli(["run", "--protocol", "lfw-verifcation", "--scale", "4", "--out", str(tmp_path)], capsys)
    assert code == 2 and "unknown protocol 'lfw-verifcation' (did you mean 'lfw-verification'" in err


def test_wrong_shape_and_raising_adapters(base_args, tmp_path, capsys, adapters_path):
    code, _, err = run_cli([*base_args, "--out", str(tmp_path / "o1"), "--model", "wrong_shape_adapter"], capsys)
    assert code == 2 and "model 'identity' at scale 4 returned shape (3, 3, 12, 12), expected (3, 3, 48, 48)" in err
    code, _, err = run_cli([*base_args, "--out", str(tmp_path / "o2"), "--model", "raising_adapter"], capsys)
    assert (
        code == 2
        and "model 'raiser' raised at scale 4 on the conformance probe: RuntimeError: CUDA out of memory (simulated)"
        in err
    )
    code, _, err = run_cli([*base_args, "--out", str(tmp_path / "o3"), "--model", "broken_import_adapter"], capsys)
    assert code == 2 and "adapter module 'broken_import_adapter' failed to import" in err


def test_corrupt_and_truncated_jpeg(tiny_data, base_args, tmp_path, capsys):
    data_root, _ = tiny_data
    bad = data_root / "tiny" / "imgs" / "Bob_B" / "Bob_B_0002.jpg"
    bad.write_bytes(bad.read_bytes()[:300])  # truncated
    code, _, err = run_cli([*base_args, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "Bob_B_0002.jpg: corrupt JPEG" in err
    bad.write_bytes(b"this is not a jpeg")
    code, _, err = run_cli([*base_args, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "Bob_B_0002.jpg: cannot decode image (not a recognised image format)" in err


def test_missing_image_and_malformed_line(tiny_data, base_args, tmp_path, capsys):
    data_root, _ = tiny_data
    (data_root / "tiny" / "imgs" / "Cid_C" / "Cid_C_0001.jpg").unlink()
    code, _, err = run_cli([*base_args, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "1 listed image(s) missing" in err and "Cid_C_0001.jpg" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_out_keeps_existing_files(base_args, tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    (out / "results.csv").write_text("old")
    out.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code, _, err = run_cli([*base_args, "--out", str(out)], capsys)
    finally:
        out.chmod(stat.S_IRWXU)
    assert code == 2 and "output folder is not writable" in err
    assert (out / "results.csv").read_text() == "old"


def test_out_is_a_file(base_args, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    code, _, err = run_cli([*base_args, "--out", str(f)], capsys)
    assert code == 2 and "output folder is not writable" in err and str(f) in err
    assert f.read_text() == "keep me"


def test_debug_shows_traceback(base_args, capsys):
    with pytest.raises(Exception, match="unknown model"):
        main(["--debug", *base_args, "--out", "x", "--model", "nope_nope"])


def test_list(capsys):
    assert main(["list", "protocols"]) == 0
    assert "lfw-verification" in capsys.readouterr().out
    assert main(["list", "embedders"]) == 0
    assert "dlib-resnet29" in capsys.readouterr().out
    assert main(["list", "models"]) == 0
    assert "bicubic" in capsys.readouterr().out


def test_models_as_python_objects(tiny_data, tmp_path):
    import torch.nn.functional as F

    from srfacebench import ModelInfo

    def up(lr):
        return F.interpolate(lr, scale_factor=4, mode="nearest")

    up.info = ModelInfo(name="python-nearest")

    def loader(scale, device="cpu"):
        def f(lr):
            return F.interpolate(lr, scale_factor=scale, mode="bilinear")

        f.info = ModelInfo(name="python-bilinear")
        return f

    data_root, proto = tiny_data
    res = evaluate([up, loader], [str(proto)], [4], tmp_path / "o", data_root=data_root,
                   cache_dir=tmp_path / "cache", progress=False, report=False)  # fmt: skip
    assert {r.model for r in res.rows} == {"hr", "bicubic", "python-nearest", "python-bilinear"}
