"""The SuperResolver protocol, ModelInfo, and the built-in baselines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from ._lazy import torch
from .degrade import bicubic_upsample

__all__ = ["BicubicUpsampler", "ModelInfo", "SuperResolver", "check_model_object"]


@dataclass(frozen=True)
class ModelInfo:
    """What a super-resolution model is: recorded in every result and cache key.

    Attributes:
        name: short name used in results, e.g. ``"bicubic"``.
        scales: the integer scales the model supports (empty = any).
        citation: paper or URL.
        licence: licence of code/weights.
        weights_sha256: hash of the weights (cache keys depend on it); None if weightless.
        version: free-form version string; change it when outputs change.
        trained_against_fr: the FR network whose loss the model was trained with (e.g.
            ``"dlib-resnet29"``), or None; the report's cross-FR matrix is laid out by it.
        preprocessing: how the model is fed (range, padding, extra channels), when it matters.
        provenance: where the weights come from, one line per file (e.g. ``"pip pkg==1.0
            path/model.bin sha256 ..."``).

    ``preprocessing`` and ``provenance`` are left out of :meth:`to_dict` when empty, so models
    that do not use them keep the identity (and cache keys) they had before they existed.
    """

    name: str
    scales: tuple[int, ...] = ()
    citation: str = ""
    licence: str = ""
    weights_sha256: str | None = None
    version: str = "1"
    trained_against_fr: str | None = None
    preprocessing: str = ""
    provenance: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["scales"] = list(self.scales)
        d["provenance"] = list(self.provenance)
        for key in ("preprocessing", "provenance"):
            if not d[key]:
                del d[key]
        return d


@runtime_checkable
class SuperResolver(Protocol):
    """Anything with an ``info`` and a ``__call__`` that up-scales a batch.

    ``__call__(lr)`` takes a float32 tensor B×3×h×w, RGB in [0, 1], on the model's device and
    returns B×3×(s·h)×(s·w) in [0, 1]. A plain function with an ``info`` attribute qualifies.
    """

    info: ModelInfo

    def __call__(self, lr: torch.Tensor) -> torch.Tensor: ...


def check_model_object(model: object, origin: str) -> SuperResolver:
    """Check that ``model`` satisfies :class:`SuperResolver`, naming what is missing or wrong."""
    if not callable(model):
        raise TypeError(f"{origin}: the model object {model!r} is not callable")
    info = getattr(model, "info", None)
    if info is None:
        raise TypeError(f"{origin}: the model has no 'info' attribute (a srfacebench.ModelInfo)")
    if not isinstance(info, ModelInfo):
        raise TypeError(f"{origin}: 'info' must be a srfacebench.ModelInfo, got {type(info).__name__}")
    if not info.name:
        raise TypeError(f"{origin}: ModelInfo.name is empty")
    return model  # type: ignore[return-value]


class BicubicUpsampler:
    """The paper's LR baseline: the LR image up-scaled with MATLAB-style bicubic, clamped."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.info = ModelInfo(
            name="bicubic",
            citation="MATLAB imresize, bicubic (a = -0.5)",
            licence="BSD-3-Clause (srfacebench)",
        )

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return bicubic_upsample(lr, self.scale).clamp_(0.0, 1.0)
