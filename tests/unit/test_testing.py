"""check_resolver on every built-in adapter, and on models that break each rule."""

import pytest
import torch

from srfacebench import ModelInfo
from srfacebench.registry import resolve_models
from srfacebench.testing import check_resolver


@pytest.mark.parametrize("spec", ["bicubic", "srfacebench.adapters.bicubic", "srfacebench.adapters.template"])
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_builtin_adapters_conform(spec, scale):
    for ref in resolve_models(spec):
        check_resolver(ref.load(scale), scale)


def _model(fn, name="bad"):
    fn.info = ModelInfo(name=name)
    return fn


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda lr: lr, "expected"),
        (lambda lr: torch.nn.functional.interpolate(lr, scale_factor=2) * 3, "outside"),
        (lambda lr: torch.nn.functional.interpolate(lr, scale_factor=2) * torch.nan, "NaN"),
        (lambda lr: torch.nn.functional.interpolate(lr, scale_factor=2) * 0 + torch.rand(1).item(), "deterministic"),
        (
            lambda lr: torch.nn.functional.interpolate(lr, scale_factor=2) * 0 + lr[0].mean() * 0.5,
            "depends on the batch",
        ),
        (lambda lr: torch.nn.functional.interpolate(lr.mul_(0.5), scale_factor=2), "edits its input"),
    ],
)
def test_each_rule_fails_clearly(fn, message):
    with pytest.raises(AssertionError, match=message):
        check_resolver(_model(fn), 2)


def test_info_is_required():
    with pytest.raises(AssertionError, match="ModelInfo"):
        check_resolver(lambda lr: lr, 2)


def test_a_scale_the_model_does_not_declare_fails():
    fn = _model(lambda lr: torch.nn.functional.interpolate(lr, scale_factor=2))
    fn.info = ModelInfo(name="x2-only", scales=(2,))
    check_resolver(fn, 2)
    with pytest.raises(AssertionError, match=r"'x2-only' declares ModelInfo.scales \[2\]; the run asks for scale 4"):
        check_resolver(fn, 4)
