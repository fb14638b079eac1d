"""Resolving ``--model`` and ``--fr`` names, lazily, in a fixed order.

Models: (1) a built-in name (``hr``, ``bicubic``), (2) an entry point of the group
``srfacebench.models``, (3) a module path ``pkg.mod`` or ``pkg.mod:name``. An adapter module
defines ``load(scale, device, **kwargs) -> SuperResolver`` (one model) or
``MODELS: dict[str, callable]`` (a zoo, each callable with the signature of ``load``). Nothing is
imported until asked for; an unknown name fails with the known names and the closest matches.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ModelError
from .resolver import BicubicUpsampler, SuperResolver, check_model_object

__all__ = [
    "ModelRef",
    "available_embedders",
    "available_models",
    "load_embedder",
    "python_model_ref",
    "register_model",
    "resolve_models",
]

Loader = Callable[..., Any]
MODEL_GROUP = "srfacebench.models"
EMBEDDER_GROUP = "srfacebench.embedders"

HR = "hr"
_BUILTIN_MODELS: dict[str, Loader | None] = {
    HR: None,  # the HR image itself: the upper bound, evaluated once at scale 1
    "bicubic": lambda scale, device="cpu", **kw: BicubicUpsampler(scale),
}
_BUILTIN_EMBEDDERS: dict[str, str] = {
    "dlib-resnet29": "srfacebench.embedders.dlib_resnet:DlibResNet29",
    "facenet-vggface2": "srfacebench.embedders.facenet:FacenetVGGFace2",
    "mobileface-v2": "srfacebench.embedders.mobileface:MobileFaceV2",
}


@dataclass(frozen=True)
class ModelRef:
    """A resolved, not yet loaded, model."""

    spec: str  # what the user wrote
    origin: str  # "built-in", "entry point ...", "module ..."
    loader: Loader | None  # None only for the HR baseline

    @property
    def is_hr(self) -> bool:
        return self.loader is None

    def load(self, scale: int, device: str = "cpu", **kwargs: Any) -> SuperResolver:
        if self.loader is None:
            raise ModelError("the 'hr' baseline is not a super-resolver")
        try:
            model = self.loader(scale, device, **kwargs)
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"model {self.spec!r} ({self.origin}) failed to load at scale {scale}: {e}") from e
        try:
            return check_model_object(model, f"model {self.spec!r} ({self.origin})")
        except TypeError as e:
            raise ModelError(str(e)) from None


def python_model_ref(obj: Any) -> ModelRef:
    """A model given as a Python object: a SuperResolver (any scale) or a ``(scale, device)`` loader."""
    if not callable(obj):
        raise ModelError(f"model {obj!r} is neither a name, a SuperResolver nor a loader")
    if hasattr(obj, "info"):
        spec = f"python:{getattr(obj.info, 'name', repr(obj))}"
        return ModelRef(spec, "Python object", lambda scale, device="cpu", **kw: obj)
    return ModelRef(f"python:{getattr(obj, '__qualname__', repr(obj))}", "Python loader", obj)


def register_model(name: str, loader: Loader) -> None:
    """Register a model loader under ``name`` (for use from Python)."""
    if name in _BUILTIN_MODELS:
        raise ValueError(f"model name {name!r} is already registered")
    _BUILTIN_MODELS[name] = loader


def _entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def available_models() -> list[str]:
    """Built-in names and installed entry points (module paths are open-ended)."""
    return sorted(set(_BUILTIN_MODELS) | set(_entry_points(MODEL_GROUP)))


def _unknown(kind: str, name: str, known: list[str], hint: str) -> ModelError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    did_you_mean = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ModelError(f"unknown {kind} {name!r}.{did_you_mean} Known: {', '.join(known)}. {hint}")


def _import_module(modname: str, spec: str) -> types.ModuleType | None:
    """Import ``modname``; None if that module itself does not exist."""
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as e:
        missing = e.name or ""
        if modname == missing or modname.startswith(missing + "."):
            return None
        raise ModelError(f"adapter module {modname!r} failed to import: {type(e).__name__}: {e}") from e
    except Exception as e:
        raise ModelError(f"adapter module {modname!r} failed to import: {type(e).__name__}: {e}") from e


def _refs_from_module(module: types.ModuleType, spec: str, member: str | None, origin: str) -> list[ModelRef]:
    zoo = getattr(module, "MODELS", None)
    if member is not None:
        if isinstance(zoo, dict) and member in zoo:
            return [ModelRef(spec, f"{origin}, MODELS[{member!r}]", zoo[member])]
        obj = getattr(module, member, None)
        if obj is None:
            known = sorted(zoo) if isinstance(zoo, dict) else []
            raise _unknown("model", member, known, f"(in adapter module {module.__name__!r})")
        return [ModelRef(spec, origin, obj)]
    if isinstance(zoo, dict):
        if not zoo:
            raise ModelError(f"adapter module {module.__name__!r} has an empty MODELS dict")
        return [ModelRef(f"{spec}:{k}", f"{origin}, MODELS[{k!r}]", v) for k, v in zoo.items()]
    load = getattr(module, "load", None)
    if not callable(load):
        raise ModelError(
            f"adapter module {module.__name__!r} defines neither load(scale, device, **kwargs) nor a MODELS dict"
        )
    return [ModelRef(spec, origin, load)]


def resolve_models(spec: str) -> list[ModelRef]:
    """Resolve one ``--model`` value into one or more models (a zoo gives several)."""
    if spec in _BUILTIN_MODELS:
        return [ModelRef(spec, "built-in", _BUILTIN_MODELS[spec])]
    eps = _entry_points(MODEL_GROUP)
    if spec in eps:
        origin = f"entry point {eps[spec].value}"
        try:
            obj = eps[spec].load()
        except Exception as e:
            raise ModelError(f"model {spec!r} ({origin}) failed to import: {type(e).__name__}: {e}") from e
        if isinstance(obj, types.ModuleType):
            return _refs_from_module(obj, spec, None, origin)
        return [ModelRef(spec, origin, obj)]
    modname, _, member = spec.partition(":")
    if modname and all(part.isidentifier() for part in modname.split(".")):
        module = _import_module(modname, spec)
        if module is not None:
            return _refs_from_module(module, spec, member or None, f"module {modname}")
    raise _unknown(
        "model",
        spec,
        available_models(),
        "A model is also any importable module path such as 'adapters.bicubic' or 'pkg.mod:name'.",
    )


def available_embedders() -> list[str]:
    return sorted(set(_BUILTIN_EMBEDDERS) | set(_entry_points(EMBEDDER_GROUP)))


def load_embedder(name: str, **kwargs: Any) -> Any:
    """Instantiate a FaceEmbedder by registered name (built-in or entry point)."""
    if name in _BUILTIN_EMBEDDERS:
        modname, _, attr = _BUILTIN_EMBEDDERS[name].partition(":")
        cls = getattr(importlib.import_module(modname), attr)
    else:
        eps = _entry_points(EMBEDDER_GROUP)
        if name not in eps:
            raise _unknown("embedder", name, available_embedders(), "")
        cls = eps[name].load()
    return cls(**kwargs)
