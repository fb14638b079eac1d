"""SRResNet shape contract and the trainer: phases, resume, and 2-process gloo = 1 process."""

import csv
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors import safe_open
from safetensors.torch import load_file

from srfacebench.reference_models.srresnet import SRResNet
from srfacebench.train import TrainConfig, train


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_shapes(scale):
    net = SRResNet(scale, channels=8, blocks=2).eval()
    assert net(torch.rand(2, 3, 10, 12)).shape == (2, 3, 10 * scale, 12 * scale)
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in net.modules()) == int(np.log2(scale))
    with pytest.raises(ValueError, match="power-of-two"):
        SRResNet(3)


def test_ten_blocks_by_default():
    net = SRResNet(4)
    assert len(net.body) == 10


def _cfg(data_root, out, cache, **kw):
    base = dict(data_root=str(data_root), out=str(out), scale=2, base_steps=3, finetune_steps=2, batch_size=4,
                patch=32, channels=8, blocks=1, val_identities=1, val_images=2, checkpoint_every=2,
                cache_dir=str(cache), seed=5)  # fmt: skip
    return TrainConfig(**(base | kw))


def test_two_phase_training_exports_and_resumes(celeba_tree, tmp_path):
    out = tmp_path / "train"
    summary = train(_cfg(celeba_tree, out, tmp_path / "cache"))
    w = summary["loss_weights"]
    assert w["w_mse"] > 0 and w["w_fr"] > 0 and w["fr_bn_mode"] == "train"
    for branch in ("vanilla", "fr"):
        state = load_file(str(out / f"srresnet-{branch}-x2.safetensors"))
        net = SRResNet(2, 8, 1)
        net.load_state_dict({k: v.float() for k, v in state.items()})
        assert (out / branch / "losses.csv").read_text().count("\n") == 3  # header + 2 steps
    # A rerun finds every phase finished: nothing is trained again, the weights are unchanged.
    before = (out / "srresnet-fr-x2.safetensors").read_bytes()
    train(_cfg(celeba_tree, out, tmp_path / "cache"))
    assert (out / "srresnet-fr-x2.safetensors").read_bytes() == before
    assert (out / "base" / "losses.csv").read_text().count("\n") == 4


def _worker(rank, cfg, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    train(cfg)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process(celeba_tree, tmp_path):
    cache = tmp_path / "cache"
    single = _cfg(celeba_tree, tmp_path / "single", cache)
    train(single)  # also fills the alignment cache before the workers start
    double = _cfg(celeba_tree, tmp_path / "double", cache)
    mp.spawn(_worker, args=(double, _free_port()), nprocs=2, join=True)
    for name in ("base/last/model.safetensors", "vanilla/last/model.safetensors", "fr/last/model.safetensors"):
        a = load_file(str(tmp_path / "single" / name))
        b = load_file(str(tmp_path / "double" / name))
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4, msg=f"{name}: {k}")
    for phase in ("base", "vanilla", "fr"):  # global-batch losses and validation, step by step
        rows_a = list(csv.DictReader((tmp_path / "single" / phase / "losses.csv").open()))
        rows_b = list(csv.DictReader((tmp_path / "double" / phase / "losses.csv").open()))
        assert len(rows_a) == len(rows_b)
        for ra, rb in zip(rows_a, rows_b, strict=True):
            for key in ("loss", "mse", "fr", "val_loss"):
                if ra[key]:
                    assert float(rb[key]) == pytest.approx(float(ra[key]), rel=1e-4, abs=1e-7), (phase, key)


def test_adapter_without_weights_fails_clearly(monkeypatch, tmp_path):
    import srfacebench.reference_models.srresnet as sr
    from srfacebench.errors import ModelError
    from srfacebench.registry import available_models, resolve_models

    monkeypatch.setattr(sr, "WEIGHTS_DIR", tmp_path)
    assert "srresnet" in available_models()  # registered through our own entry point
    refs = resolve_models("srfacebench.reference_models.srresnet")
    assert [r.spec for r in refs] == [
        "srfacebench.reference_models.srresnet:vanilla",
        "srfacebench.reference_models.srresnet:fr",
    ]
    with pytest.raises(ModelError, match=r"no SRResNet 'vanilla' weights for scale 4: .*srresnet-vanilla-x4"):
        refs[0].load(4)


def test_adapter_with_weights_conforms(monkeypatch, tmp_path):
    from safetensors.torch import save_file

    import srfacebench.reference_models.srresnet as sr
    from srfacebench.registry import resolve_models
    from srfacebench.testing import check_resolver

    monkeypatch.setattr(sr, "WEIGHTS_DIR", tmp_path)
    torch.manual_seed(0)
    net = SRResNet(4)
    save_file(
        {k: v.half().contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "srresnet-fr-x4.safetensors")
    )
    (ref,) = resolve_models("srfacebench.reference_models.srresnet:fr")
    model = ref.load(4)
    assert model.info.name == "srresnet-fr" and len(model.info.weights_sha256) == 64
    # Untrained weights leave [0, 1]; the engine clamps, so only check shape/determinism/batching here.
    check_resolver(model, 4, range_tol=float("inf"))


def test_batch_gather_equals_slicing_each_patch():
    from srfacebench.train import _batch

    rng = np.random.default_rng(3)
    chips = torch.from_numpy(rng.integers(0, 256, (10, 3, 40, 40), dtype=np.uint8))
    cfg = _cfg(Path("."), Path("."), Path("."), batch_size=5, scale=4)
    got = _batch(chips, cfg, 7, 16)
    r = np.random.default_rng([cfg.seed, 7])  # the same draws, sliced one by one
    idx = r.integers(0, 10, 5)
    oy = r.integers(0, 40 - 16 + 1, 5) // 4 * 4
    ox = r.integers(0, 40 - 16 + 1, 5) // 4 * 4
    ref = torch.stack([chips[idx[k], :, oy[k] : oy[k] + 16, ox[k] : ox[k] + 16] for k in range(5)]).float() / 255
    torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_init_fine_tunes_a_loaded_model_without_phase_one(celeba_tree, tmp_path):
    """``train --init``: any torch model the library loads (here an ncnn graph read from files) is the
    base of both branches; no base phase; both exports load back into the same architecture."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_zoo_readers import _write_ncnn

    from srfacebench.train import init_module

    files = tmp_path / "ncnn"
    files.mkdir()
    param, bin_, _ = _write_ncnn(files)
    args = {"param": str(param), "bin": str(bin_), "name": "tiny"}
    out = tmp_path / "ft"
    cfg = _cfg(
        celeba_tree, out, tmp_path / "cache", init="ncnn", init_args=args, degradation="blur:sigma=0.5+bicubic:2",
        name="tiny-s1",
    )  # fmt: skip
    summary = train(cfg)
    assert summary["base"] == {"init": "ncnn", "init_args": args, "name": "tiny", "steps": 0}
    assert not (out / "base").exists()  # phase 1 skipped
    base, _ = init_module("ncnn", 2, "cpu", args)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    for branch in ("vanilla", "fr"):
        path = out / f"tiny-s1-{branch}-x2.safetensors"  # --name sets the exports' stem
        state = load_file(str(path))
        with safe_open(str(path), "pt") as f:
            assert json.loads(f.metadata()["srfacebench"])["name"] == f"tiny-s1-{branch}"
        assert set(state) == set(before)
        moved = max((state[k].float() - before[k]).abs().max().item() for k in state)
        assert moved > 0  # it was trained
        assert (out / branch / "losses.csv").read_text().count("\n") == 3
    w = summary["loss_weights"]
    assert w["w_mse"] > 0 and w["w_fr"] > 0


def test_a_degradation_of_another_scale_is_refused_before_any_work(celeba_tree, tmp_path):
    with pytest.raises(ValueError, match="down-scales by 4, but the training scale is 2"):
        train(_cfg(celeba_tree, tmp_path / "o", tmp_path / "cache", degradation="bicubic:4"))
    assert not (tmp_path / "o" / "base").exists()


def test_a_name_that_cannot_name_files_is_refused_before_any_work(celeba_tree, tmp_path):
    with pytest.raises(ValueError, match=r"--name 'a/b': use letters"):
        train(_cfg(celeba_tree, tmp_path / "o", tmp_path / "cache", init="bicubic", name="a/b"))
    with pytest.raises(ValueError, match="--name names the exports of an --init fine-tune"):
        train(_cfg(celeba_tree, tmp_path / "o", tmp_path / "cache", name="srresnet-s1"))
    assert not (tmp_path / "o").exists()
