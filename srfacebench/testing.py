"""Conformance checks for model authors: test an adapter the way srfacebench tests its own.

Example:
    >>> from srfacebench.registry import resolve_models
    >>> from srfacebench.testing import check_resolver
    >>> (ref,) = resolve_models("bicubic")
    >>> check_resolver(ref.load(4), 4)
"""

from __future__ import annotations

import torch

from .conformance import RANGE_TOL, probe_embedder, probe_resolver
from .errors import ModelError

__all__ = ["check_embedder", "check_resolver"]


def check_resolver(
    model: object, scale: int, *, device: str = "cpu", range_tol: float = RANGE_TOL, seed: int = 0
) -> None:
    """Assert that ``model`` is a well-behaved SuperResolver at ``scale``: the conformance probe the
    engine runs before a model's first batch (:func:`srfacebench.conformance.probe_resolver`), with
    every failure — hard or soft — an assertion.

    Checks: ``info`` is a ModelInfo with a name, listing ``scale`` if it lists any; output is a
    float tensor of shape B×3×(s·h)×(s·w) on batches of several sizes; values are finite and within
    [0, 1] ± ``range_tol`` (default: the engine's 0.25, beyond which a run refuses the model; smaller
    overshoots are clamped and counted); two calls agree (≤ 1e-6); an image's output does not
    depend on the rest of its batch (≤ ``BATCH_TOL``, half a grey level); the input is not edited.

    Raises:
        AssertionError: naming the model and the property that failed.
    """
    try:
        rep = probe_resolver(model, scale, device, seed, range_tol=range_tol)
    except ModelError as e:
        raise AssertionError(str(e)) from None
    soft = rep.soft_failures()
    assert not soft, f"{rep.name}: {'; '.join(soft)}"


def check_embedder(
    net: torch.nn.Module, *, device: str = "cpu", sizes: tuple[int, ...] = (160, 112), seed: int = 0
) -> None:
    """Assert that ``net`` is a well-behaved FaceEmbedder: the conformance probe the engine runs on
    every FR network (:func:`srfacebench.conformance.probe_embedder`) on the shipped face chips and
    on seeded random batches of each of ``sizes``, every failure an assertion; and gradients reach
    the input (the FR loss trains through it).

    Checks: ``describe()`` has name, input_size, dim, distance (euclidean or cosine) and
    weights_sha256; output float32 B×dim, finite; two calls agree (≤ 1e-6 relative); an image's
    embedding does not depend on its batch (≤ 1e-4 relative); the input is not edited.

    Raises:
        AssertionError: naming the network and the property that failed.
    """
    net = net.to(device).eval()
    layout = getattr(net, "layout", None) is not None
    g = torch.Generator().manual_seed(seed)
    # the shipped chips (with landmarks for a network with a face layout of its own), then random
    # batches without landmarks
    batches = [(None, layout)] + [(torch.rand(5, 3, size, size, generator=g), False) for size in sizes]
    for x, with_landmarks in batches:
        try:
            rep, _ = probe_embedder(net, device, layout=with_landmarks, x=x)
        except ModelError as e:
            raise AssertionError(str(e)) from None
        soft = rep.soft_failures()
        assert not soft, f"embedder {rep.name!r}: {'; '.join(soft)}"
    name = net.describe()["name"]  # type: ignore[operator]
    x = torch.rand(2, 3, sizes[0], sizes[0], generator=g).to(device).requires_grad_(True)
    net(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0, (
        f"embedder {name!r}: no finite gradient reaches the input"
    )
