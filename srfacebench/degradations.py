"""Degradations as open, composable, seeded specs: ``blur:sigma=2+bicubic:4+jpeg:q=40``.

A spec is a chain of registered operations joined by ``+``, applied left to right to a batch of
HR chips (B×3×H×W, RGB in [0, 1]). Each operation is ``name[:args]`` with comma-separated
arguments, positional (the scale of a down-sampling op) or ``key=value``. Every operation has a
stable :meth:`DegradationOp.describe` (it feeds cache keys) and a canonical text form, so
``bicubic:4``, ``bicubic:scale=4`` and ``bicubic: 4`` are one degradation with one label.

Built-in operations (each documented in ``docs/degradations.md``):

==========  ====================================  ===============================================
name        arguments                             what it does
==========  ====================================  ===============================================
bicubic     scale                                 MATLAB ``imresize`` bicubic down-sampling
down        scale, kernel=area|bilinear|nearest   down-sampling by another kernel
blur        sigma                                 Gaussian blur, truncated at 4σ, mirrored borders
noise       sigma (0..255 units), seed=0          additive Gaussian noise, seeded per image
jpeg        q (1..95)                             JPEG round trip through Pillow (4:2:0)
realistic   scale, sigma=2, noise=8, q=60         blur → bicubic → noise → JPEG (a composite)
==========  ====================================  ===============================================

Noise is drawn per image from a generator seeded by ``(seed, the image's key)`` (its path in the
pool), so it is the same whatever the batch, the process or a resume. Every operation ends with
a clamp to [0, 1] (recorded in ``describe()``).

A spec may hold brace lists, expanded as a grid (a sweep): ``blur:sigma={1,2}+bicubic:{4,8}`` is
four degradations.

Example:
    >>> d = parse_degradation("blur:sigma=1.5+bicubic:4+jpeg:q=40")
    >>> d.label, d.scale
    ('blur:sigma=1.5+bicubic:4+jpeg:q=40', 4)
    >>> expand_specs(["blur:sigma={1,2}+bicubic:4"])
    ['blur:sigma=1+bicubic:4', 'blur:sigma=2+bicubic:4']
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ._lazy import F, torch
from .degrade import bicubic_downsample, bicubic_upsample
from .errors import SrfacebenchError
from .plugins import did_you_mean

__all__ = [
    "DEGRADATIONS",
    "Degradation",
    "DegradationError",
    "DegradationOp",
    "expand_specs",
    "gaussian_blur",
    "hr_label",
    "parse_degradation",
    "register_degradation",
]

HR_LABEL = "none"


class DegradationError(SrfacebenchError):
    """A degradation spec that cannot be parsed or applied."""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}" if v == float(f"{v:g}") else repr(v)
    return str(v)


class DegradationOp:
    """One registered operation. Subclasses declare ``name``, ``params`` (name → (type, default,
    check)) and ``positional`` (the parameter a bare value sets), and implement ``apply``."""

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, tuple[type, Any]]] = {}
    positional: ClassVar[str | None] = None
    factor: int = 1  # how much the op shrinks H and W

    def __init__(self, **kwargs: Any) -> None:
        self.args: dict[str, Any] = {}
        unknown = [k for k in kwargs if k not in self.params]
        if unknown:
            hint = did_you_mean(unknown[0], self.params)
            raise DegradationError(
                f"degradation {self.name!r} has no parameter {unknown[0]!r}{hint}; "
                f"it takes {', '.join(self.params) or 'none'}"
            )
        for key, (typ, default) in self.params.items():
            value = kwargs.get(key, default)
            if value is None:
                raise DegradationError(f"degradation {self.name!r} needs {key}=…")
            try:
                value = typ(value)
            except (TypeError, ValueError):
                raise DegradationError(f"degradation {self.name!r}: {key}={value!r} is not a {typ.__name__}") from None
            self.args[key] = value
        self.check()

    def check(self) -> None:
        """Raise :class:`DegradationError` if the arguments are out of range."""

    def apply(self, x: torch.Tensor, keys: Sequence[str] | None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def label(self) -> str:
        parts = []
        for key, (_, default) in self.params.items():
            if default is not None and self.args[key] == default:
                continue  # defaults are left out of the label (describe() keeps them)
            v = _fmt(self.args[key])
            parts.append(v if key == self.positional else f"{key}={v}")
        return self.name + (":" + ",".join(parts) if parts else "")

    def describe(self) -> dict[str, Any]:
        return {"op": self.name, **self.args, "clamp": [0.0, 1.0]}


DEGRADATIONS: dict[str, type[DegradationOp]] = {}


def register_degradation(cls: type[DegradationOp]) -> type[DegradationOp]:
    """Class decorator: make an operation available to specs under ``cls.name``."""
    if not cls.name or not re.fullmatch(r"[a-z][a-z0-9_-]*", cls.name):
        raise ValueError(f"degradation name {cls.name!r} must be lower-case letters, digits, '-' or '_'")
    DEGRADATIONS[cls.name] = cls
    return cls


DEGRADATION_GROUP = "srfacebench.degradations"


def _entry_points() -> dict[str, Any]:
    import importlib.metadata

    return {ep.name: ep for ep in importlib.metadata.entry_points(group=DEGRADATION_GROUP)}


def _from_entry_point(name: str) -> type[DegradationOp] | None:
    """An operation a package registers under the entry-point group ``srfacebench.degradations``
    (``name = "pkg.module:OpClass"``), loaded on first use and registered under its name."""
    ep = _entry_points().get(name)
    if ep is None:
        return None
    try:
        cls = ep.load()
    except Exception as e:
        raise DegradationError(f"degradation {name!r} (entry point {ep.value}) failed to load: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, DegradationOp)) or cls.name != name:
        raise DegradationError(
            f"degradation entry point {name!r} ({ep.value}) must be a DegradationOp subclass whose name is {name!r}"
        )
    return register_degradation(cls)


def _positive_int(op: DegradationOp, key: str, low: int = 1) -> None:
    if op.args[key] < low:
        raise DegradationError(f"degradation {op.name!r}: {key} must be >= {low}, got {op.args[key]}")


@register_degradation
class Bicubic(DegradationOp):
    """MATLAB ``imresize`` bicubic down-sampling (anti-aliased), the SR community's convention."""

    name = "bicubic"
    params: ClassVar = {"scale": (int, None)}
    positional = "scale"

    def check(self) -> None:
        _positive_int(self, "scale", 2)
        self.factor = self.args["scale"]

    def apply(self, x: torch.Tensor, keys: Sequence[str] | None) -> torch.Tensor:
        return bicubic_downsample(x, self.factor)


@register_degradation
class Down(DegradationOp):
    """Down-sampling by another kernel: ``area`` (block mean), ``bilinear`` (anti-aliased, as
    Pillow), ``nearest`` (the top-left pixel of each block)."""

    name = "down"
    params: ClassVar = {"scale": (int, None), "kernel": (str, "area")}
    positional = "scale"
    kernels = ("area", "bilinear", "nearest")

    def check(self) -> None:
        _positive_int(self, "scale", 2)
        if self.args["kernel"] not in self.kernels:
            raise DegradationError(
                f"degradation 'down': kernel must be one of {self.kernels}, got {self.args['kernel']!r}"
            )
        self.factor = self.args["scale"]

    def apply(self, x: torch.Tensor, keys: Sequence[str] | None) -> torch.Tensor:
        s = self.factor
        h, w = x.shape[-2:]
        if h % s or w % s:
            raise DegradationError(f"HR size {h}×{w} is not divisible by scale {s}")
        kernel = self.args["kernel"]
        if kernel == "area":
            return F.avg_pool2d(x, s)
        if kernel == "nearest":
            return x[..., ::s, ::s].contiguous()
        return F.interpolate(x, size=(h // s, w // s), mode="bilinear", align_corners=False, antialias=True)


def _mirror_index(n: int, radius: int) -> torch.Tensor:
    """Indices of a length-n axis padded by ``radius`` with symmetric (half-sample) mirroring."""
    i = np.arange(-radius, n + radius)
    period = 2 * n
    i = np.mod(i, period)
    i = np.where(i >= n, period - 1 - i, i)
    return torch.from_numpy(i)


def gaussian_blur(x: torch.Tensor, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Separable Gaussian blur of ``...×H×W`` with symmetric borders (``scipy.ndimage`` ``reflect``).

    The kernel has radius ``int(truncate·σ + 0.5)`` and is normalised to sum 1, as
    ``scipy.ndimage.gaussian_filter`` does.
    """
    if sigma <= 0:
        return x
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k = torch.from_numpy(k / k.sum()).to(x.device, x.dtype)
    h, w = x.shape[-2:]
    shape = x.shape
    y = x.reshape(-1, 1, h, w)
    y = y[..., _mirror_index(h, radius).to(x.device), :]
    y = F.conv2d(y, k.view(1, 1, -1, 1))
    y = y[..., _mirror_index(w, radius).to(x.device)]
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    return y.reshape(shape)


@register_degradation
class Blur(DegradationOp):
    """Gaussian blur of standard deviation ``sigma`` pixels (truncated at 4σ, mirrored borders)."""

    name = "blur"
    params: ClassVar = {"sigma": (float, None)}

    def check(self) -> None:
        if not (0 < self.args["sigma"] <= 50 and math.isfinite(self.args["sigma"])):
            raise DegradationError(f"degradation 'blur': sigma must be in (0, 50], got {self.args['sigma']}")

    def apply(self, x: torch.Tensor, keys: Sequence[str] | None) -> torch.Tensor:
        return gaussian_blur(x, self.args["sigma"])


def _image_seed(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\0{key}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


@register_degradation
class Noise(DegradationOp):
    """Additive white Gaussian noise, ``sigma`` in 0..255 units, drawn per image from a generator
    seeded by (``seed``, the image's key), so the same image always gets the same noise."""

    name = "noise"
    params: ClassVar = {"sigma": (float, None), "seed": (int, 0)}

    def check(self) -> None:
        if not (0 <= self.args["sigma"] <= 255):
            raise DegradationError(f"degradation 'noise': sigma must be in [0, 255], got {self.args['sigma']}")

    def apply(self, x: torch.Tensor, keys: Sequence[str] | None) -> torch.Tensor:
        if keys is None or len(keys) != len(x):
            raise DegradationError("degradation 'noise' needs one key per image (its path) to seed the noise")
        noise = torch.empty(x.shape, dtype=torch.float32)
        for i, key in enumerate(keys):
            g = torch.Generator().manual_seed(_image_seed(self.args["seed"], key))
            noise[i] = torch.randn(x.shape[1:], generator=g, dtype=torch.float32)
        return x + noise.to(x.device, x.dtype) * (self.args["sigma"] / 255.0)


def jpeg_roundtrip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode each image as JPEG with Pillow (quality ``quality``, 4:2:0) and decode it back.

    The image is rounded to 8 bits first, as any saved JPEG would be.
    """
    from PIL import Image

    arr = (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.empty_like(arr)
    for i, a in enumerate(arr):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="JPEG", quality=quality, subsampling=2)
        buf.seek(0)
        with Image.open(buf) as im:
            out[i] = np.asarray(im.convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(x.device, x.dtype) / 255.0


@register_degradation
class Jpeg(DegradationOp):
    """JPEG compression at quality ``q`` through Pillow (the image is rounded to 8 bits first)."""

    name = "jpeg"
    params: ClassVar = {"q": (int, None)}

    def check(self) -> None:
        if not (1 <= self.args["q"] <= 95):
            raise DegradationError(f"degradation 'jpeg': q must be in 1..95, got {self.args['q']}")

    def apply(self, x: torch.Tensor, keys: Sequence[str] | None) -> torch.Tensor:
        return jpeg_roundtrip(x, self.args["q"])

    def describe(self) -> dict[str, Any]:
        from PIL import __version__ as pil_version

        return super().describe() | {"subsampling": "4:2:0", "encoder": f"Pillow {pil_version}"}


@register_degradation
class Realistic(DegradationOp):
    """The blind face restoration composite (GFPGAN, CodeFormer): blur σ, bicubic ↓scale, Gaussian
    noise (0..255 units) and JPEG at quality ``q``, in that order; fixed parameters, not random."""

    name = "realistic"
    params: ClassVar = {
        "scale": (int, None),
        "sigma": (float, 2.0),
        "noise": (float, 8.0),
        "q": (int, 60),
        "seed": (int, 0),
    }
    positional = "scale"

    def check(self) -> None:
        a = self.args
        self.steps = [
            Blur(sigma=a["sigma"]),
            Bicubic(scale=a["scale"]),
            Noise(sigma=a["noise"], seed=a["seed"]),
            Jpeg(q=a["q"]),
        ]
        self.factor = a["scale"]

    def apply(self, x: torch.Tensor, keys: Sequence[str] | None) -> torch.Tensor:
        for step in self.steps:
            x = step.apply(x, keys).clamp(0.0, 1.0)
        return x

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"steps": [s.describe() for s in self.steps]}


@dataclass(frozen=True)
class Degradation:
    """A chain of operations applied to HR chips to make the LR input of a model.

    Attributes:
        ops: the operations, applied in order (each followed by a clamp to [0, 1]).
        label: the canonical spec text (what results and reports show).
        scale: the product of the operations' down-sampling factors.
    """

    ops: tuple[DegradationOp, ...]
    label: str = field(init=False)
    scale: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", "+".join(op.label for op in self.ops))
        object.__setattr__(self, "scale", math.prod(op.factor for op in self.ops))

    def __call__(self, hr: torch.Tensor, keys: Sequence[str] | None = None) -> torch.Tensor:
        """Degrade a B×3×H×W batch; ``keys`` (one per image, e.g. its path) seed any noise."""
        x = hr
        for op in self.ops:
            x = op.apply(x, keys).clamp(0.0, 1.0)
        return x

    def describe(self) -> dict[str, Any]:
        """Everything the output depends on, for cache keys and provenance."""
        return {"label": self.label, "scale": self.scale, "ops": [op.describe() for op in self.ops]}

    def upsample(self, lr: torch.Tensor) -> torch.Tensor:
        """The bicubic baseline for this degradation: LR up-scaled by ``scale``."""
        return bicubic_upsample(lr, self.scale)

    def params(self) -> dict[str, float]:
        """Flat ``op.param`` → value, for severity curves (e.g. ``{"blur.sigma": 2.0, ...}``)."""
        return {f"{op.name}.{k}": v for op in self.ops for k, v in op.args.items() if isinstance(v, (int, float))}


def _split_args(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


def parse_degradation(spec: str) -> Degradation:
    """Parse one spec (no braces) into a :class:`Degradation`.

    Raises:
        DegradationError: naming the unknown operation (with suggestions) or the bad argument.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise DegradationError("empty degradation spec")
    if "{" in spec:
        raise DegradationError(f"degradation {spec!r} is a sweep; expand it with expand_specs first")
    ops: list[DegradationOp] = []
    for part in spec.split("+"):
        name, _, argtext = part.strip().partition(":")
        name = name.strip().lower()
        cls = DEGRADATIONS.get(name) or _from_entry_point(name)
        if cls is None:
            known = sorted(set(DEGRADATIONS) | set(_entry_points()))
            hint = did_you_mean(name, known, n=2)
            raise DegradationError(f"unknown degradation {name!r} in {spec!r}{hint}; known: {', '.join(known)}")
        kwargs: dict[str, Any] = {}
        for arg in _split_args(argtext):
            key, eq, value = arg.partition("=")
            if not eq:
                if cls.positional is None or cls.positional in kwargs:
                    raise DegradationError(f"degradation {name!r} in {spec!r}: write {arg!r} as key=value")
                key, value = cls.positional, arg
            kwargs[key.strip()] = value.strip()
        ops.append(cls(**kwargs))
    d = Degradation(tuple(ops))
    if d.scale < 2:
        raise DegradationError(f"degradation {spec!r} does not down-sample; add e.g. '+bicubic:4'")
    return d


_BRACES = re.compile(r"\{([^{}]*)\}")


def expand_specs(specs: Sequence[str]) -> list[str]:
    """Expand brace lists (a grid) and canonicalise; duplicates dropped, order kept."""
    out: list[str] = []
    for spec in specs:
        pieces = _BRACES.split(spec)
        literals, choices = pieces[0::2], [[c.strip() for c in p.split(",")] for p in pieces[1::2]]
        for combo in itertools.product(*choices):
            text = literals[0] + "".join(c + lit for c, lit in zip(combo, literals[1:], strict=True))
            label = parse_degradation(text).label
            if label not in out:
                out.append(label)
    return out


def hr_label() -> str:
    """The degradation label of HR rows (no degradation)."""
    return HR_LABEL


# Where an operation sits on its severity axis when it is absent: no blur is σ = 0, no noise is
# σ = 0, no JPEG is quality 100. Used to put the undegraded point on severity curves.
_ABSENT_AT = {("blur", "sigma"): 0.0, ("noise", "sigma"): 0.0, ("jpeg", "q"): 100.0}


def degradation_axes(label: str) -> list[dict[str, Any]]:
    """Each numeric parameter of a spec as a severity axis: the family (the label with that
    parameter shown as ``*``, e.g. ``blur:sigma=*+bicubic:4``), the parameter, its value, and — for
    operations that can be absent (blur, noise, JPEG) — the label without the operation and the
    value that stands for its absence. Runs record these (``provenance.degradation_axes``), so a
    report groups labels without parsing them (and needs no plug-in operation installed)."""
    d = parse_degradation(label)
    out = []
    for i, op in enumerate(d.ops):
        for key, v in op.args.items():
            if not isinstance(v, (int, float)) or key == "seed":
                continue
            masked = [o.label for o in d.ops]
            masked[i] = (
                op.label.replace(f"{key}={_fmt(v)}", f"{key}=*")
                if key != op.positional
                else (op.label.replace(f":{_fmt(v)}", ":*", 1))
            )
            out.append({
                "family": "+".join(masked),
                "param": f"{op.name}.{key}",
                "value": float(v),
                "without": "+".join(o.label for j, o in enumerate(d.ops) if j != i),
                "absent_at": _ABSENT_AT.get((op.name, key)),
            })  # fmt: skip
    return out


def severity_families(
    labels: Sequence[str], recorded: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, list[tuple[str, float, str]]]:
    """Group degradation labels that differ in exactly one numeric parameter.

    Returns ``{family: [(param, value, label), ...]}`` sorted by value, for families of 2 or more;
    ``family`` is the label with that parameter shown as ``*`` (e.g. ``blur:sigma=*+bicubic:4``).
    When the family's operation can be absent (blur, noise, JPEG) and the label without it is among
    ``labels``, that label joins the family at σ = 0 or quality 100. ``recorded`` gives the axes a
    run recorded (:func:`degradation_axes`); other labels are parsed, and a label that cannot be
    parsed here (an operation from a plug-in that is not installed) is left out of the grouping.
    """
    recorded = recorded or {}
    axes: dict[str, list[dict[str, Any]]] = {}
    for lab in labels:
        if lab == HR_LABEL:
            continue
        if lab in recorded:
            axes[lab] = recorded[lab]
        else:
            try:
                axes[lab] = degradation_axes(lab)
            except DegradationError:
                continue
    fams: dict[str, list[tuple[str, float, str]]] = {}
    bases: dict[str, tuple[str, float, str]] = {}
    for lab, items in axes.items():
        for a in items:
            fams.setdefault(a["family"], []).append((a["param"], float(a["value"]), lab))
            if a.get("absent_at") is not None and a["without"] in axes:
                bases[a["family"]] = (a["param"], float(a["absent_at"]), a["without"])
    for family, base in bases.items():
        if all(lab != base[2] for _, _, lab in fams[family]):
            fams[family].append(base)
    return {k: sorted(v, key=lambda t: t[1]) for k, v in fams.items() if len(v) >= 2}
