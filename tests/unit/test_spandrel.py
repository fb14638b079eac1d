"""The spandrel adapter: randomly initialised published architectures saved as state dicts, loaded
through --model spandrel --model-args weights=..., checked like every adapter, run on a tiny protocol."""

import pytest
import torch

from srfacebench.errors import ModelError
from srfacebench.registry import resolve_models
from srfacebench.testing import check_resolver


def _spandrel():
    from srfacebench.adapters.spandrel import torchvision_standin

    torchvision_standin()
    return pytest.importorskip("spandrel")


def _esrgan(scale):
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(in_nc=3, out_nc=3, num_filters=16, num_blocks=1, scale=scale)


def _swinir(scale):
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(upscale=scale, in_chans=3, img_size=16, window_size=4, img_range=1.0, depths=[2], embed_dim=12,
                  num_heads=[2], mlp_ratio=2, upsampler="pixelshuffle")  # fmt: skip


def _gfpgan(scale):
    from spandrel.architectures.GFPGAN import GFPGAN

    return GFPGAN()


ARCHS = {"ESRGAN": (_esrgan, ".pth"), "SwinIR": (_swinir, ".safetensors"), "GFPGAN": (_gfpgan, ".pth")}


def _save(net, path):
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_random_weights_load_detect_and_pass_the_checks(arch, tmp_path):
    _spandrel()
    make, suffix = ARCHS[arch]
    torch.manual_seed(0)
    path = tmp_path / f"{arch.lower()}-random{suffix}"
    _save(make(4), path)
    (ref,) = resolve_models("spandrel")
    model = ref.with_args({"weights": str(path)}).load(4)
    assert arch.lower() in model.info.name and model.info.weights_sha256 and not model.model.training
    if arch == "GFPGAN":  # a 512-px face restorer: run after bicubic up-scaling, at its native size
        lr = torch.rand(1, 3, 16, 16)
        assert model(lr).shape == (1, 3, 64, 64)
    else:
        check_resolver(model, 4, range_tol=1e-6)


def test_a_scale_the_file_cannot_do_is_refused(tmp_path):
    _spandrel()
    path = tmp_path / "esrgan-x2.pth"
    _save(_esrgan(2), path)
    (ref,) = resolve_models("spandrel")
    with pytest.raises(ModelError, match="up-scales by 2, not by the run's scale 4"):
        ref.with_args({"weights": str(path)}).load(4)


def test_pickles_that_are_not_plain_state_dicts_are_refused(tmp_path):
    _spandrel()

    class Evil:
        def __reduce__(self):
            return (print, ("arbitrary code",))

    path = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, path)
    (ref,) = resolve_models("spandrel")
    with pytest.raises(ModelError, match=r"weights_only=True"):
        ref.with_args({"weights": str(path)}).load(4)


def test_end_to_end_on_a_tiny_protocol(tmp_path):
    _spandrel()
    from srfacebench.demo import run_demo

    path = tmp_path / "esrgan-x4.safetensors"
    torch.manual_seed(1)
    _save(_esrgan(4), path)
    args = {"spandrel": {"weights": str(path), "name": "esr"}}
    res = run_demo(out=tmp_path / "o", scales=[4], cache_dir=tmp_path / "cache", progress=False, report=False,
                   limit=2, models=("spandrel",), model_kwargs=args)  # fmt: skip
    assert {r.model for r in res.rows} == {"hr", "bicubic", "esr"}


def test_the_identity_is_the_same_on_every_load_and_names_have_no_spaces(tmp_path):
    # The first load installs the torchvision stand-in (where torchvision cannot be imported); the
    # second must not then record "torchvision 0.0-srfacebench-standin" as another version.
    _spandrel()
    torch.manual_seed(0)
    path = tmp_path / "my esrgan.pth"
    _save(_esrgan(4), path)
    (ref,) = resolve_models("spandrel")
    a = ref.with_args({"weights": str(path)}).load(4).info
    b = ref.with_args({"weights": str(path)}).load(4).info
    assert a.version == b.version and a.name == b.name == "esrgan-my-esrgan"


def test_a_size_mismatched_checkpoint_gets_one_short_line(tmp_path):
    _spandrel()
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in _esrgan(4).state_dict().items()}
    bad = [k for k in state if k.endswith("conv2.0.weight")][:2]
    for k in bad:  # detection reads the first conv; these two no longer fit the detected network
        state[k] = torch.zeros(state[k].shape[0] + 2, *state[k].shape[1:])
    path = tmp_path / "edited.pth"
    torch.save(state, path)
    (ref,) = resolve_models("spandrel")
    with pytest.raises(ModelError) as e:
        ref.with_args({"weights": str(path)}).load(4)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400 and str(path) in msg
    assert f"2 tensor(s) do not fit it; first: {bad[0]}" in msg and "(and 1 more)" in msg
