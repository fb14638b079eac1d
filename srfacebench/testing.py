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

__all__ = ["check_embedder", "check_resolver"]


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


_DESCRIBE_KEYS = ("name", "input_size", "dim", "distance", "weights_sha256")


def check_embedder(
    net: torch.nn.Module, *, device: str = "cpu", sizes: tuple[int, ...] = (160, 112), seed: int = 0
) -> None:
    """Assert that ``net`` is a well-behaved FaceEmbedder (the contract every built-in passes).

    Checks: ``describe()`` has name, input_size, dim, distance (euclidean or cosine) and
    weights_sha256; B×3×H×W RGB in [0, 1] of several sizes gives float32 B×dim, finite; in eval
    mode an image's embedding does not depend on its batch (≤ 1e-4 relative) and two calls agree
    (≤ 1e-6); gradients reach the input and are finite.

    Raises:
        AssertionError: naming the network and the property that failed.
    """
    info = net.describe()  # type: ignore[operator]
    name = info.get("name", type(net).__name__)
    missing = [k for k in _DESCRIBE_KEYS if k not in info]
    assert not missing, f"embedder {name!r}: describe() lacks {missing}"
    assert info["distance"] in ("euclidean", "cosine"), f"embedder {name!r}: unknown distance {info['distance']!r}"
    dim = int(info["dim"])
    net = net.to(device).eval()
    g = torch.Generator().manual_seed(seed)
    for size in sizes:
        x = torch.rand(5, 3, size, size, generator=g).to(device)
        with torch.no_grad():
            full = net(x)
            again = net(x)
            ones = torch.cat([net(x[i : i + 1]) for i in range(len(x))])
        assert full.dtype == torch.float32, f"embedder {name!r}: output dtype {full.dtype}, expected float32"
        assert tuple(full.shape) == (5, dim), f"embedder {name!r}: output shape {tuple(full.shape)} at {size} px"
        assert torch.isfinite(full).all(), f"embedder {name!r}: NaN or infinite output at {size} px"
        scale = float(full.abs().max()) or 1.0
        assert float((full - ones).abs().max()) <= 1e-4 * scale, f"embedder {name!r}: output depends on the batch"
        assert float((full - again).abs().max()) <= 1e-6 * scale, f"embedder {name!r}: not deterministic"
    x = torch.rand(2, 3, sizes[0], sizes[0], generator=g).to(device).requires_grad_(True)
    net(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0, (
        f"embedder {name!r}: no finite gradient reaches the input"
    )
