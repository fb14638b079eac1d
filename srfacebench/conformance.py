"""The conformance probe every model passes before its first batch, and what its cache key holds.

:func:`probe_resolver` runs a model on small seeded batches and reports what it does: output
type, shape, range, NaN, determinism, batch independence, whether it edited its input.
:func:`model_identity` says what the model's numbers depend on (its ``ModelInfo``, a digest of
its weights, the batch size when its output depends on the batch) and whether they may be cached.

Hard failures (wrong type or shape, NaN, a range that is not [0, 1] — e.g. 0..255 output) are
errors. Soft ones (nondeterminism, batch dependence, an edited input) are errors too, unless the
run is *lenient* (``--lenient``): then they are recorded in ``results.json`` and the report, and a
batch-dependent model's cache key includes the batch size.
"""

from __future__ import annotations

import hashlib
import inspect
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .errors import ModelError

__all__ = [
    "EmbedderReport", "ProbeReport", "check_info", "check_output", "code_digest", "model_identity", "probe_embedder",
    "probe_resolver", "weights_digest",
]  # fmt: skip

RANGE_TOL = 0.25  # outputs beyond [-0.25, 1.25] are not images in [0, 1]; smaller overshoots are clamped
# Batch vs one-by-one outputs that differ by less than half a grey level are float32 arithmetic (convolution
# kernels blocked differently per batch size; ~1e-3 in nets that scale by 255 inside, e.g. SPAN), not batch
# dependence (train-mode BatchNorm differs by ~1e-1). The measured difference is recorded either way.
BATCH_TOL = 0.5 / 255


@dataclass
class ProbeReport:
    name: str
    scale: int
    range: tuple[float, float] = (0.0, 1.0)
    deterministic: bool = True
    batch_invariant: bool = True
    input_untouched: bool = True
    max_batch_diff: float = 0.0
    max_repeat_diff: float = 0.0
    problems: list[str] = field(default_factory=list)

    def soft_failures(self) -> list[str]:
        out = []
        if not self.deterministic:
            out.append(f"not deterministic (two calls differ by {self.max_repeat_diff:.2e})")
        if not self.batch_invariant:
            out.append(f"output depends on the batch (batch vs one-by-one differ by {self.max_batch_diff:.2e})")
        if not self.input_untouched:
            out.append("edits its input tensor in place (each model gets its own copy, so no other model is affected)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"soft_failures": self.soft_failures()}


def check_output(sr: object, lr: torch.Tensor, scale: int, name: str, range_tol: float = RANGE_TOL) -> None:
    """The hard rules for one output batch (the probe's and every streamed batch's): a float
    tensor of shape B×3×(s·h)×(s·w), finite, within [0, 1] ± ``range_tol``."""
    b, _, h, w = lr.shape
    expected = (b, 3, h * scale, w * scale)
    if not isinstance(sr, torch.Tensor):
        raise ModelError(f"model {name!r} returned {type(sr).__name__}, expected a torch.Tensor")
    if tuple(sr.shape) != expected:
        raise ModelError(f"model {name!r} at scale {scale} returned shape {tuple(sr.shape)}, expected {expected}")
    if not sr.is_floating_point():
        raise ModelError(
            f"model {name!r} returned dtype {sr.dtype}; expected float RGB in [0, 1] (divide uint8 by 255)"
        )
    if not torch.isfinite(sr).all():
        raise ModelError(f"model {name!r} at scale {scale} returned NaN or infinite values")
    _check_range(float(sr.min()), float(sr.max()), scale, name, range_tol)


def _check_range(lo: float, hi: float, scale: int, name: str, tol: float) -> None:
    if hi > 1 + tol or lo < -tol:
        hint = " — it looks like 0..255 output; divide by 255" if hi > 2 else ""
        raise ModelError(
            f"model {name!r} at scale {scale} returned values in [{lo:.3g}, {hi:.3g}], outside [0, 1] "
            f"(tolerance {tol:g}){hint}"
        )


def check_info(model: Any, scale: int) -> str:
    """A model's ModelInfo: present, named, and listing ``scale`` when it lists scales. Returns the name."""
    from .resolver import ModelInfo

    info = getattr(model, "info", None)
    if not isinstance(info, ModelInfo):
        raise ModelError(f"model {model!r}: 'info' must be a srfacebench.ModelInfo, got {type(info).__name__}")
    if not info.name:
        raise ModelError(f"model {model!r}: ModelInfo.name is empty")
    if info.scales and scale not in info.scales:
        raise ModelError(
            f"model {info.name!r} declares ModelInfo.scales {list(info.scales)}; the run asks for scale {scale}"
        )
    if not callable(model):
        raise ModelError(f"model {info.name!r} is not callable")
    return info.name


def probe_resolver(
    model: Any, scale: int, device: str = "cpu", seed: int = 0, range_tol: float = RANGE_TOL
) -> ProbeReport:
    """Run ``model`` on seeded random LR batches and report how it behaves (see the module notes).
    The engine runs it on every model before its first batch; ``srfacebench.testing.check_resolver``
    is this probe with its soft failures turned into assertions.

    Raises:
        ModelError: for hard failures (no ModelInfo, a scale it does not declare, wrong output type,
            shape, dtype, NaN, range), naming the model.
    """
    name = check_info(model, scale)
    rep = ProbeReport(name, scale)
    g = torch.Generator().manual_seed(seed)
    lo, hi = float("inf"), float("-inf")
    for b, h, w in ((3, 12, 12), (2, 16, 20)):
        lr = torch.rand(b, 3, h, w, generator=g).to(device)
        keep = lr.clone()
        try:
            with torch.inference_mode():
                sr = model(lr)
                if not torch.equal(lr, keep):
                    rep.input_untouched = False
                again = model(keep.clone())
                singles = [model(keep[i : i + 1].clone()) for i in range(b)]
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(
                f"model {name!r} raised at scale {scale} on the conformance probe: {type(e).__name__}: {e}"
            ) from e
        check_output(sr, lr, scale, name, range_tol)
        lo, hi = min(lo, float(sr.min())), max(hi, float(sr.max()))
        rep.max_repeat_diff = max(rep.max_repeat_diff, float((sr.float() - again.float()).abs().max()))
        one = torch.cat(singles).float()
        rep.max_batch_diff = max(rep.max_batch_diff, float((sr.float() - one).abs().max()))
    rep.range = (lo, hi)
    rep.deterministic = rep.max_repeat_diff <= 1e-6
    rep.batch_invariant = rep.max_batch_diff <= BATCH_TOL
    return rep


_DESCRIBE_KEYS = ("name", "input_size", "dim", "distance", "weights_sha256")
FR_REPEAT_TOL = 1e-6  # relative to the largest |component|
FR_BATCH_TOL = 1e-4  # relative: batch vs one-by-one (float32 kernels blocked per batch size)


@dataclass
class EmbedderReport:
    """What an FR network did on the probe: the same questions as :class:`ProbeReport`."""

    name: str
    dim: int = 0
    distance: str = "euclidean"
    deterministic: bool = True
    batch_invariant: bool = True
    input_untouched: bool = True
    max_batch_diff: float = 0.0
    max_repeat_diff: float = 0.0

    def soft_failures(self) -> list[str]:
        out = []
        if not self.deterministic:
            out.append(f"not deterministic (two calls differ by {self.max_repeat_diff:.2e} relative)")
        if not self.batch_invariant:
            out.append(
                f"output depends on the batch (batch vs one-by-one differ by {self.max_batch_diff:.2e} relative)"
            )
        if not self.input_untouched:
            out.append(
                "edits its input tensor in place (each FR network gets its own copy, so nothing else is affected)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"soft_failures": self.soft_failures()}


def probe_embedder(
    net: torch.nn.Module, device: str = "cpu", layout: bool = False, x: torch.Tensor | None = None
) -> tuple[EmbedderReport, Any]:
    """Run an FR network (eval mode) on a batch — by default the two face chips shipped for the
    behavioural fingerprint (:mod:`srfacebench.fingerprint`), with fixed landmarks for networks
    with a face layout of their own — and report how it behaves. Returns (report, the batch's
    embeddings as float32 numpy: the fingerprint). The engine runs it on every FR network;
    ``srfacebench.testing.check_embedder`` is this probe with assertions.

    Raises:
        ModelError: for hard failures (describe() incomplete, unknown distance, wrong output
            shape or dtype, NaN), naming the network.
    """
    from .fingerprint import _LANDMARKS, _probe_chips

    describe = getattr(net, "describe", None)
    if not callable(describe):
        raise ModelError(f"FR network {type(net).__name__}: has no describe() (see srfacebench.embedders.base)")
    info = describe()
    name = str(info.get("name", type(net).__name__))
    missing = [k for k in _DESCRIBE_KEYS if k not in info]
    if missing:
        raise ModelError(f"FR network {name!r}: describe() lacks {missing}")
    if info["distance"] not in ("euclidean", "cosine"):
        raise ModelError(f"FR network {name!r}: unknown distance {info['distance']!r} (euclidean or cosine)")
    rep = EmbedderReport(name, int(info["dim"]), str(info["distance"]))
    x = (_probe_chips() if x is None else x).to(device)
    kw: dict[str, Any] = {}
    if layout:
        lm = torch.from_numpy(_LANDMARKS[None].repeat(len(x), axis=0)).to(device)
        kw = {"landmarks": lm}

    def run(batch: torch.Tensor, **k: Any) -> torch.Tensor:
        try:
            with torch.inference_mode():
                return net(batch, **k)
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"FR network {name!r} raised on the conformance probe: {type(e).__name__}: {e}") from e

    keep = x.clone()
    full = run(x, **kw)
    rep.input_untouched = bool(torch.equal(x, keep))
    if not isinstance(full, torch.Tensor) or full.dtype != torch.float32:
        got = full.dtype if isinstance(full, torch.Tensor) else type(full).__name__
        raise ModelError(f"FR network {name!r}: output {got}, expected a float32 tensor")
    if tuple(full.shape) != (len(x), rep.dim):
        raise ModelError(f"FR network {name!r}: output shape {tuple(full.shape)}, expected {(len(x), rep.dim)}")
    if not torch.isfinite(full).all():
        raise ModelError(f"FR network {name!r}: NaN or infinite embeddings")
    again = run(keep.clone(), **kw)
    ones = torch.cat([run(keep[i : i + 1].clone(), **{k: v[i : i + 1] for k, v in kw.items()}) for i in range(len(x))])
    top = float(full.abs().max()) or 1.0
    rep.max_repeat_diff = float((full - again).abs().max()) / top
    rep.max_batch_diff = float((full - ones).abs().max()) / top
    rep.deterministic = rep.max_repeat_diff <= FR_REPEAT_TOL
    rep.batch_invariant = rep.max_batch_diff <= FR_BATCH_TOL
    return rep, full.detach().float().cpu().numpy()


def _modules(model: Any) -> list[tuple[str, torch.nn.Module]]:
    """The torch modules a model holds: itself, its attributes, or its closure's cells."""
    if isinstance(model, torch.nn.Module):
        return [("", model)]
    found: list[tuple[str, torch.nn.Module]] = []
    items = list(vars(model).items()) if hasattr(model, "__dict__") else []
    for owner in (model, type(model).__dict__.get("__call__")):
        cells = getattr(owner, "__closure__", None) or ()
        names = getattr(getattr(owner, "__code__", None), "co_freevars", ())
        items += [(f"closure.{n}", c.cell_contents) for n, c in zip(names, cells, strict=False) if _filled(c)]
    for attr, value in sorted(items, key=lambda t: t[0]):
        if isinstance(value, torch.nn.Module):
            found.append((attr, value))
    return found


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def weights_digest(model: Any) -> str | None:
    """SHA-256 over the state dicts of the torch modules a model holds (itself, its attributes or
    its closure), or None when it holds none."""
    modules = _modules(model)
    if not modules:
        return None
    h = hashlib.sha256()
    for prefix, module in modules:
        for key, tensor in module.state_dict().items():
            t = tensor.detach().cpu().contiguous()
            h.update(f"{prefix}.{key}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def code_digest(model: Any) -> str | None:
    """SHA-256 of the source file that defines the model's callable, or None if there is none."""
    target = model if inspect.isfunction(model) else type(model)
    try:
        path = inspect.getsourcefile(target)
    except TypeError:
        return None
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def model_identity(model: Any, origin: str, probe: ProbeReport, batch_size: int) -> tuple[dict[str, Any], str | None]:
    """(what the model's cache key holds, a note when it cannot be cached).

    The key holds the ``ModelInfo``; when it declares no ``weights_sha256``, a digest of every
    torch module the model holds and of the source file defining it (so changed weights or code
    change the numbers); the batch size when the output depends on the batch. A model with none of
    these (no declared hash, no module, no source file) is never served from the cache.
    """
    info = model.info.to_dict()
    ident: dict[str, Any] = {"info": info}
    note = None
    if info.get("weights_sha256") is None and not origin.startswith("built-in"):
        digest, code = weights_digest(model), code_digest(model)
        if digest is not None:
            ident["weights_digest"] = digest
        if code is not None:
            ident["code_digest"] = code
        if digest is None and code is None:
            ident["uncacheable_run"] = uuid.uuid4().hex
            note = (
                f"model {info['name']!r} declares no weights_sha256 and has neither torch modules nor a source "
                "file to hash: its outputs are recomputed on every run, never served from the cache"
            )
    if not probe.batch_invariant:
        ident["batch_size"] = batch_size
    return ident, note
