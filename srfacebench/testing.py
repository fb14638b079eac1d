"""Conformance checks for model authors: test an adapter the way srfacebench tests its own.

Example:
    >>> from srfacebench.registry import resolve_models
    >>> from srfacebench.testing import check_resolver
    >>> (ref,) = resolve_models("bicubic")
    >>> check_resolver(ref.load(4), 4)
"""

from __future__ import annotations

import torch

from .resolver import ModelInfo

__all__ = ["check_resolver"]


def check_resolver(model: object, scale: int, *, device: str = "cpu", range_tol: float = 1e-3, seed: int = 0) -> None:
    """Assert that ``model`` is a well-behaved SuperResolver at ``scale``.

    Checks: ``info`` is a ModelInfo with a name (and lists ``scale`` if it lists any); output is a
    float tensor of shape B×3×(s·h)×(s·w) for several batch and image sizes; values are finite
    and within [0, 1] ± ``range_tol``; an image's output does not depend on the rest of its batch
    (≤ 1e-5); two calls give the same output (≤ 1e-6).

    Raises:
        AssertionError: naming the model and the property that failed.
    """
    info = getattr(model, "info", None)
    name = getattr(info, "name", repr(model))
    assert callable(model), f"{name}: the model is not callable"
    assert isinstance(info, ModelInfo), f"{name}: 'info' must be a srfacebench.ModelInfo, got {type(info).__name__}"
    assert info.name, f"{name}: ModelInfo.name is empty"
    assert not info.scales or scale in info.scales, f"{name}: scale {scale} is not among ModelInfo.scales {info.scales}"
    g = torch.Generator().manual_seed(seed)
    for b, h, w in ((1, 8, 8), (3, 10, 12), (2, 16, 16)):
        lr = torch.rand(b, 3, h, w, generator=g).to(device)
        with torch.inference_mode():
            sr = model(lr)  # type: ignore[operator]
            again = model(lr)  # type: ignore[operator]
            singles = torch.cat([model(lr[i : i + 1]) for i in range(b)])  # type: ignore[operator]
        expected = (b, 3, h * scale, w * scale)
        assert isinstance(sr, torch.Tensor), f"{name}: returned {type(sr).__name__}, expected a torch.Tensor"
        assert tuple(sr.shape) == expected, (
            f"{name}: input {tuple(lr.shape)} gave {tuple(sr.shape)}, expected {expected}"
        )
        assert sr.is_floating_point(), f"{name}: output dtype {sr.dtype} is not floating point"
        assert torch.isfinite(sr).all(), f"{name}: output has NaN or infinite values"
        lo, hi = sr.min().item(), sr.max().item()
        assert lo >= -range_tol and hi <= 1 + range_tol, f"{name}: output range [{lo:.4f}, {hi:.4f}] is outside [0, 1]"
        diff = (sr - again).abs().max().item()
        assert diff <= 1e-6, f"{name}: two calls on the same input differ by {diff:.2e} (not deterministic)"
        diff = (sr - singles).abs().max().item()
        assert diff <= 1e-5, f"{name}: outputs depend on the batch: batch vs one-by-one differ by {diff:.2e}"
