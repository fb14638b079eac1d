"""Identity by behaviour (srfacebench.fingerprint): a cached number is never served when what made
it has changed — arguments, behaviour behind an unchanged declaration, an FR network's code."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_faults import run, tiny, value  # noqa: F401  (tiny: a fixture)

from srfacebench import ModelInfo
from srfacebench.errors import ConfigError


class Gain:
    """Bilinear x4 times a gain, behind a declaration that never changes (BasicSR-style object)."""

    def __init__(self, gain: float) -> None:
        self.info = ModelInfo(name="gain", weights_sha256="1" * 64)
        self.settings = {"gain": gain}  # a plain attribute: no digest sees it

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return (F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False) * self.settings["gain"]).clamp(
            0, 1
        )


def _notes(res):
    return " ".join(res.provenance["notes"])


def _gain_module(path, name: str, load: str):
    """A .py adapter: bilinear x4 times ``gain`` behind a fixed declaration (``name``, a constant
    weights hash), with the given ``load`` function (which builds ``M(gain, name)``)."""
    path.write_text(
        textwrap.dedent("""
        import torch.nn.functional as F
        from pathlib import Path
        from srfacebench import ModelInfo
        class M:
            def __init__(self, gain, name):
                self.info = ModelInfo(name=name, weights_sha256="2" * 64)
                self.gain = gain
            def __call__(self, lr):
                return (F.interpolate(lr, scale_factor=4, mode="bilinear") * self.gain).clamp(0, 1)
        """)
        + textwrap.dedent(load).replace("NAME", name)
    )
    return str(path)


def test_behaviour_changed_behind_the_same_declaration_is_recomputed(tiny, tmp_path):
    fresh = value(run(tiny, tmp_path / "fresh", [Gain(0.5)]), "gain")
    run(tiny, tmp_path / "o", [Gain(1.0)])
    again = run(tiny, tmp_path / "o", [Gain(0.5)])  # same folder, same ModelInfo, other behaviour
    assert value(again, "gain") == fresh  # not gain 1.0's cached number
    assert "not reused" in _notes(again) and "sr output differs" in _notes(again)
    third = run(tiny, tmp_path / "o", [Gain(0.5)])  # and then it is cached and reused, silently
    assert value(third, "gain") == fresh and "not reused" not in _notes(third)


def test_cache_prune_removes_only_what_a_run_set_aside(tiny, tmp_path, capsys):
    """``srfacebench cache prune OUT``: the ``*.stale-N`` folders go (``--dry-run`` only lists them);
    the live caches stay, so the same run again is served from them; a busy folder is refused."""
    from srfacebench.cli import main
    from srfacebench.io import RunLock

    out = tmp_path / "o"
    run(tiny, out, [Gain(1.0)])
    run(tiny, out, [Gain(0.5)])  # sets gain 1.0's SR folder aside
    stale = sorted(p for p in (out / "cache").rglob("*.stale-*") if p.is_dir())
    assert len(stale) >= 1 and all(any(p.rglob("shard-*.npy")) for p in stale)
    live = sorted(p for p in (out / "cache").rglob("shard-*.npy") if ".stale-" not in str(p))
    assert main(["cache", "prune", str(out), "--dry-run"]) == 0
    assert f"would remove {len(stale)} stale cache folder(s)" in capsys.readouterr().out
    assert all(p.is_dir() for p in stale)
    with RunLock(out):
        assert main(["cache", "prune", str(out)]) == 2
    assert "another srfacebench run" in capsys.readouterr().err and all(p.is_dir() for p in stale)
    assert main(["cache", "prune", str(out)]) == 0
    assert f"removed {len(stale)} stale cache folder(s)" in capsys.readouterr().out
    assert not any(p.exists() for p in stale)
    assert all(p.is_file() for p in live)
    again = run(tiny, out, [Gain(0.5)])
    assert "not reused" not in _notes(again)  # the live cache still serves the run
    assert main(["cache", "prune", str(tmp_path / "nowhere")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_cache_prune_ignores_stale_looking_names_above_the_run_folder(tiny, tmp_path):
    """A run folder under a path such as ``runs.stale-0/`` still has its own stale folders pruned."""
    from srfacebench.fingerprint import prune_stale

    out = tmp_path / "runs.stale-0" / "o"
    run(tiny, out, [Gain(1.0)])
    run(tiny, out, [Gain(0.5)])
    stale = sorted(p for p in (out / "cache").rglob("*.stale-*") if p.is_dir())
    assert stale and [d for d, _ in prune_stale(out)] == stale
    assert not any(p.exists() for p in stale)


def test_model_args_are_part_of_the_identity_and_a_resume_never_mixes(tiny, tmp_path):
    load = """
        def load(scale, device="cpu", gain: float = 1.0):
            return M(gain, "NAME")
        """
    spec = _gain_module(tmp_path / "gain_model.py", "gm", load)
    fresh = value(run(tiny, tmp_path / "fresh", [spec], model_kwargs={spec: {"gain": "0.5"}}), "gm")
    first = run(tiny, tmp_path / "o", [spec], model_kwargs={spec: {"gain": "1.0"}})
    with pytest.raises(ConfigError, match=r"holds the results of another run \(its models differ"):
        run(tiny, tmp_path / "o", [spec], model_kwargs={spec: {"gain": "0.5"}})  # never silently replaced
    second = run(tiny, tmp_path / "o", [spec], model_kwargs={spec: {"gain": "0.5"}}, force=True)
    assert value(second, "gm") == fresh != value(first, "gm")
    assert second.provenance["model_infos"]["gm|bicubic:4"]["args"] == {"gain": 0.5}


def test_a_weights_file_overwritten_in_place_is_another_identity(tiny, tmp_path):
    w = tmp_path / "w.txt"
    load = """
        def load(scale, device="cpu", weights: str = ""):
            return M(float(Path(weights).read_text()), "NAME")
        """
    mod = _gain_module(tmp_path / "file_model.py", "fm", load)
    spec, kw = mod, {mod: {"weights": str(w)}}
    w.write_text("1.0")
    first = run(tiny, tmp_path / "o", [spec], model_kwargs=kw)
    w.write_text("0.5")
    second = run(tiny, tmp_path / "o", [spec], model_kwargs=kw)
    assert value(second, "fm") != value(first, "fm")
    assert value(second, "fm") == value(run(tiny, tmp_path / "fresh", [spec], model_kwargs=kw), "fm")


def test_an_fr_network_changed_behind_the_same_describe_is_recomputed(tiny, tmp_path, monkeypatch):
    from srfacebench.embedders.dlib_resnet import DlibResNet29

    def distances(folder):
        import pandas as pd

        return pd.read_csv(folder / "pairs.csv")["distance"].to_numpy()

    run(tiny, tmp_path / "o", [])
    before = distances(tmp_path / "o")
    original = DlibResNet29.embed_normalised
    monkeypatch.setattr(DlibResNet29, "embed_normalised", lambda self, x: 2 * original(self, x))
    after = run(tiny, tmp_path / "o", [])  # describe() unchanged, embeddings doubled
    run(tiny, tmp_path / "fresh", [])
    np.testing.assert_array_equal(distances(tmp_path / "o"), distances(tmp_path / "fresh"))
    np.testing.assert_allclose(distances(tmp_path / "o"), 2 * before, rtol=1e-5)
    assert "fr output differs" in _notes(after)


def test_a_cache_made_before_fingerprints_is_recomputed_not_trusted(tiny, tmp_path):
    first = run(tiny, tmp_path / "o", [Gain(1.0)])
    for fp in (tmp_path / "o" / "cache").rglob("fingerprint.npz"):
        fp.unlink()
    again = run(tiny, tmp_path / "o", [Gain(1.0)])
    assert value(again, "gain") == value(first, "gain")
    assert "no behavioural fingerprint" in _notes(again)


def test_a_reused_run_folder_never_shows_another_runs_per_item_files(tiny, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "probes.csv").write_text("protocol,model\nold-identification-run,x\n")  # left by an earlier run
    run(tiny, out, [])  # a verification-only run
    assert (out / "pairs.csv").is_file()
    assert not (out / "probes.csv").exists()


def test_fallback_flags_survive_a_kill_and_runs_sharing_the_chip_folder(tmp_path, monkeypatch):
    """A chip's fallback flag is written (atomically, per chip) before the chip: a run killed before
    its summary log, or two runs aligning into one folder, lose no flag."""
    from PIL import Image
    from test_faults import make_image

    from srfacebench.data import align

    src = tmp_path / "src"
    (src / "p").mkdir(parents=True)
    for k in range(3):
        Image.fromarray(make_image(k)).save(src / "p" / f"p_{k}.jpg")  # no face: fallback
    monkeypatch.setattr(align, "_write_log", lambda *a, **k: None)  # killed before the summary is written
    align.align_files(src, ["p/p_0.jpg"], tmp_path / "chips", workers=1, progress=False)
    align.align_files(src, ["p/p_1.jpg", "p/p_2.jpg"], tmp_path / "chips", workers=1, progress=False)  # another run
    assert align.fallback_chips(tmp_path / "chips") == {"p/p_0.jpg", "p/p_1.jpg", "p/p_2.jpg"}


def test_two_checkpoints_of_one_adapter_compare_in_one_run(tiny, tmp_path):
    """--model M --model-args a --model M --model-args b: two models (M and M#2), each with its own
    arguments and numbers, instead of '--model-args given twice'."""
    import json

    from test_faults import cli

    load = """
        def load(scale, device="cpu", gain: float = 1.0):
            return M(gain, f"NAME-{gain}")
        """
    mod = _gain_module(tmp_path / "ckpt.py", "ckpt", load)
    out = tmp_path / "o"
    args = ["--model", mod, "--model-args", "gain=1.0", "--model", mod, "--model-args", "gain=0.5"]
    assert cli(tiny, tmp_path, "--out", str(out), *args) == 0
    res = json.loads((out / "results.json").read_text())
    psnr = {r["model"]: r["value"] for r in res["rows"] if r["metric"] == "psnr_y"}
    assert {"ckpt-1.0", "ckpt-0.5"} <= set(psnr) and psnr["ckpt-1.0"] != psnr["ckpt-0.5"]


def test_a_py_model_edited_between_two_evaluate_calls_runs_its_new_code(tiny, tmp_path):
    # One process, one path: the second call must run the edited file, not the module the first
    # imported (which kept running the old code while the new file's digest was recorded).
    path = tmp_path / "edited_model.py"
    spec = _gain_module(path, "ed", 'def load(scale, device="cpu"):\n    return M(0.5, "NAME")\n')
    fresh = value(run(tiny, tmp_path / "fresh", [spec]), "ed")
    _gain_module(path, "ed", 'def load(scale, device="cpu"):\n    return M(1.0, "NAME")\n')
    first = run(tiny, tmp_path / "o", [spec])
    _gain_module(path, "ed", 'def load(scale, device="cpu"):\n    return M(0.5, "NAME")\n')
    second = run(tiny, tmp_path / "o", [spec])
    assert value(second, "ed") == fresh != value(first, "ed")


def test_the_same_plan_again_resumes_and_no_report_says_so(tiny, tmp_path, capsys):
    from test_faults import cli

    out = tmp_path / "o"
    assert cli(tiny, tmp_path, "--out", str(out)) == 0
    first = (out / "results.csv").read_text()
    assert cli(tiny, tmp_path, "--out", str(out)) == 0  # same plan: a resume, served from the cache
    assert (out / "results.csv").read_text() == first
    printed = capsys.readouterr().out
    assert "report.html" not in printed.splitlines()[-1]  # --no-report: not claimed
    assert cli(tiny, tmp_path, "--out", str(out), "--scale", "2") == 2
    assert "holds the results of another run (its protocols, degradations" in capsys.readouterr().err
    assert cli(tiny, tmp_path, "--out", str(out), "--scale", "2", "--force") == 0
