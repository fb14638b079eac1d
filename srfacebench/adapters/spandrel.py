"""Any published SR architecture spandrel detects, from a weights file: ``--model spandrel
--model-args weights=model.pth`` (ESRGAN / Real-ESRGAN, SwinIR, HAT, OmniSR, GFPGAN, CodeFormer...).

Loading is safe: ``.safetensors`` with safetensors, ``.pth``/``.pt``/``.ckpt`` with
``torch.load(weights_only=True)`` — never spandrel's own unpickler. The model runs in eval mode;
its ``ModelInfo`` comes from spandrel's metadata (architecture, scale, tags) and the file's SHA-256.
A file whose scale is not the run's is refused. Face-restoration models (scale 1, e.g. GFPGAN)
are applied to the LR face up-scaled by MATLAB bicubic to the HR size, resized to the model's
minimum input size when it has one, and resized back (anti-aliased).

spandrel imports torchvision at start-up for two architectures (LaMa's ``rotate``, RestoreFormer's
``normalize``). Where torchvision cannot be imported (PyPI has no CPU build for torch 2.13, see
``docs/adapters.md``), a minimal stand-in providing exactly those names is put in ``sys.modules``:
``normalize`` is implemented as torchvision does; ``rotate`` raises (LaMa, an inpainting model,
is not usable for SR anyway). Every architecture listed in ``docs/adapters.md`` is tested with it.
"""

from __future__ import annotations

import enum
import hashlib
import sys
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from srfacebench.degrade import bicubic_upsample
from srfacebench.errors import ModelError
from srfacebench.resolver import ModelInfo

__all__ = ["load", "torchvision_standin"]


_STANDIN_VERSION = "0.0-srfacebench-standin"


def torchvision_standin() -> str:
    """Make ``import spandrel`` work: the real torchvision if it imports, else the stand-in.

    Returns ``"torchvision X"`` or ``"stand-in"`` (recorded in ``ModelInfo.version``).
    """
    try:
        import torchvision.transforms.functional  # noqa: F401

        version = sys.modules["torchvision"].__version__
        # the stand-in of an earlier call: the same answer as that call, so identities stay stable
        return "stand-in" if version == _STANDIN_VERSION else f"torchvision {version}"
    except Exception:  # not installed, or a build that does not match this torch
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]

    class InterpolationMode(enum.Enum):
        NEAREST = "nearest"
        BILINEAR = "bilinear"
        BICUBIC = "bicubic"

    def rotate(*args: Any, **kwargs: Any) -> Any:
        raise ModelError("this spandrel architecture needs torchvision's rotate (LaMa): install torchvision")

    def normalize(tensor: torch.Tensor, mean: Any, std: Any, inplace: bool = False) -> torch.Tensor:
        mean_t = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        std_t = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        if not inplace:
            tensor = tensor.clone()
        return tensor.sub_(mean_t).div_(std_t)

    tv = types.ModuleType("torchvision")
    tv.__version__ = _STANDIN_VERSION  # type: ignore[attr-defined]
    tr = types.ModuleType("torchvision.transforms")
    fn = types.ModuleType("torchvision.transforms.functional")
    fn.InterpolationMode, fn.rotate, fn.normalize = InterpolationMode, rotate, normalize  # type: ignore[attr-defined]
    tv.transforms, tr.functional = tr, fn  # type: ignore[attr-defined]
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tr, "torchvision.transforms.functional": fn})
    return "stand-in"


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelError(f"spandrel: weights file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if suffix in (".pth", ".pt", ".ckpt", ".bin"):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelError(
                f"{path}: not loadable with torch.load(weights_only=True) ({type(e).__name__}: {e})"
            ) from None
    raise ModelError(f"{path}: unsupported weights file type {suffix!r} (use .safetensors, .pth or .pt)")


class SpandrelResolver:
    def __init__(self, descriptor: Any, info: ModelInfo, scale: int) -> None:
        self.descriptor = descriptor
        self.model = descriptor.model.eval()
        self.info = info
        self.scale = scale
        self.native = descriptor.scale
        req = descriptor.size_requirements
        self.minimum = int(getattr(req, "minimum", 0) or 0)

    @torch.inference_mode()
    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        if self.native == self.scale:
            return self.descriptor(lr).clamp(0, 1)
        # a restoration model (scale 1): bicubic up-scaling first, at the model's native size
        up = bicubic_upsample(lr, self.scale).clamp(0, 1)
        h, w = up.shape[-2:]
        if self.minimum and min(h, w) < self.minimum:
            big = F.interpolate(up, size=(self.minimum, self.minimum), mode="bicubic", align_corners=False).clamp(0, 1)
            out = self.descriptor(big)
            return F.interpolate(out, size=(h, w), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        return self.descriptor(up).clamp(0, 1)


def _short_load_error(e: Exception) -> str:
    """torch's state-dict errors list every mismatched tensor (kilobytes); one line names the first."""
    text = str(e)
    mismatches = [line.strip() for line in text.splitlines() if line.strip().startswith("size mismatch for")]
    if mismatches:
        arch = text.split("loading state_dict for ", 1)[-1].split(":", 1)[0] if "state_dict for" in text else "it"
        first = mismatches[0].removeprefix("size mismatch for ").replace("copying a param with shape torch.Size", "")
        first = first.replace(" from checkpoint, the shape in current model is torch.Size", " in the file, expected ")
        more = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
        return (
            f"spandrel detected {arch} but {len(mismatches)} tensor(s) do not fit it; first: {first}{more} — "
            "the file is truncated, edited or of a variant spandrel does not know"
        )
    first_line = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return f"spandrel could not load this state dict: {first_line[:300]}"


def load(scale: int, device: str = "cpu", weights: str = "", name: str = "") -> SpandrelResolver:
    """``weights``: a state-dict file spandrel can detect; ``name``: the model's name in results
    (default ``<architecture>-<file stem>``)."""
    if not weights:
        raise ModelError("spandrel: give the weights file: --model spandrel --model-args weights=PATH")
    tv = torchvision_standin()
    try:
        import spandrel
    except ImportError as e:
        raise ModelError(
            f"spandrel is not installed ({e}): pip install 'srfacebench[spandrel]' && pip install --no-deps "
            "'spandrel>=0.4.2,<0.5' (without its dependencies: PyPI's torchvision breaks CPU torch; docs/adapters.md)"
        ) from None
    path = Path(weights).expanduser()
    state = _state_dict(path)
    try:
        desc = spandrel.ModelLoader(torch.device(device)).load_from_state_dict(spandrel.canonicalize_state_dict(state))
    except spandrel.UnsupportedModelError:
        raise ModelError(f"{path}: spandrel recognises no architecture in this state dict") from None
    except (RuntimeError, KeyError, ValueError) as e:  # detected, but the tensors do not fit it
        raise ModelError(f"{path}: {_short_load_error(e)}") from None
    if not isinstance(desc, spandrel.ImageModelDescriptor) or desc.input_channels != 3 or desc.output_channels != 3:
        raise ModelError(f"{path}: {desc.architecture.name} is not an RGB image-to-image model")
    if desc.scale not in (1, scale):
        raise ModelError(f"{path}: {desc.architecture.name} up-scales by {desc.scale}, not by the run's scale {scale}")
    arch = desc.architecture.name
    info = ModelInfo(
        name=name or f"{arch.lower()}-{path.stem}".replace(" ", "-"),
        scales=(desc.scale,) if desc.scale > 1 else (),
        citation=f"spandrel architecture {arch} ({desc.architecture.id}); tags: {', '.join(desc.tags) or '-'}",
        licence="see the weights' source",
        weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        version=f"spandrel {spandrel.__version__}; {tv}; purpose {desc.purpose}",
    )
    return SpandrelResolver(desc.to(torch.device(device)), info, scale)
