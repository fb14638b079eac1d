"""Resolving ``--model`` and ``--fr`` names, lazily, in a fixed order.

Models: (1) a built-in name (``hr``, ``bicubic``), (2) an entry point of the group
``srfacebench.models``, (3) a module path ``pkg.mod`` or ``pkg.mod:name``. An adapter module
defines ``load(scale, device, **kwargs) -> SuperResolver`` (one model) or
``MODELS: dict[str, callable]`` (a zoo, each callable with the signature of ``load``). Nothing is
imported until asked for; an unknown name fails with the known names and the closest matches.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelError
from .plugins import PluginRegistry, did_you_mean
from .resolver import BicubicUpsampler, SuperResolver, check_model_object
from .results import HR

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

_OLD_SPELLINGS = {"adapters", "reference_models"}  # now srfacebench.adapters, srfacebench.reference_models
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
    """A resolved, not yet loaded, model, with the keyword arguments its loader will receive."""

    spec: str  # what the user wrote
    origin: str  # "built-in", "entry point ...", "module ...", "file ..."
    loader: Loader | None  # None only for the HR baseline
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_hr(self) -> bool:
        return self.loader is None

    def with_args(self, raw: dict[str, Any]) -> ModelRef:
        """A copy whose loader gets ``raw`` (text values typed by the loader's signature)."""
        if self.loader is None:
            raise ModelError("the 'hr' baseline takes no arguments")
        return replace(self, kwargs=bind_args(self.loader, raw, f"model {self.spec!r}"))

    def load(self, scale: int, device: str = "cpu", **kwargs: Any) -> SuperResolver:
        if self.loader is None:
            raise ModelError("the 'hr' baseline is not a super-resolver")
        kwargs = {**self.kwargs, **kwargs}
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


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _convert(value: Any, annotation: Any, default: Any, where: str) -> Any:
    """Type a text value by the parameter's annotation (or its default's type)."""
    if not isinstance(value, str):
        return value
    ann = annotation if annotation is not inspect.Parameter.empty else None
    text = getattr(ann, "__name__", None) if isinstance(ann, type) else (str(ann) if ann is not None else "")
    # "bool | None", "Optional[bool]", "typing.Optional[bool]", "None | bool" all mean bool here
    text = (text or "").replace("typing.", "")
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional[") : -1]
    parts = [t.strip() for t in text.split("|") if t.strip() not in ("None", "NoneType")]
    text = parts[0] if len(parts) == 1 else text
    target: Any = None
    for typ in (bool, int, float):
        if ann is typ or text == typ.__name__:
            target = typ
            break
    if target is None and ann is None and default is not inspect.Parameter.empty and default is not None:
        target = type(default) if type(default) in (bool, int, float) else None
    if target is bool:
        if value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ModelError(f"{where}: expected true or false, got {value!r}")
    if target in (int, float):
        try:
            return target(value)
        except ValueError:
            raise ModelError(f"{where}: expected a {target.__name__}, got {value!r}") from None
    return value


def bind_args(func: Callable[..., Any], raw: dict[str, Any], what: str, skip: int = 2) -> dict[str, Any]:
    """Check ``raw`` keyword arguments against ``func``'s signature (after its first ``skip``
    parameters: a model loader's ``scale, device``) and type them; unknown keys are an error naming
    them and the accepted ones."""
    if not raw:
        return {}
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return dict(raw)
    params = list(sig.parameters.values())[skip:]
    named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    unknown = [k for k in raw if k not in named]
    if unknown and not var_kw:
        accepted = ", ".join(named) or "none"
        raise ModelError(f"{what}: unknown argument(s) {unknown}; its loader accepts: {accepted}")
    out = {}
    for k, v in raw.items():
        p = named.get(k)
        out[k] = _convert(v, p.annotation, p.default, f"{what} argument {k}") if p else v
    return out


def _file_module(path: Path, spec: str) -> types.ModuleType:
    """Import a Python file as a module (``--model path/to/file.py``)."""
    import hashlib
    import importlib.util

    if not path.is_file():
        raise ModelError(f"model {spec!r}: file {path} not found")
    # keyed by the file's place *and content*: a file edited between two evaluate() calls in one
    # process is imported again, so the code that runs is the code whose digest is recorded
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    name = f"srfacebench_user_{path.stem}_{where}_{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    mspec = importlib.util.spec_from_file_location(name, path)
    if mspec is None or mspec.loader is None:
        raise ModelError(f"model {spec!r}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(mspec)
    sys.modules[name] = module
    try:
        mspec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise ModelError(f"adapter file {path} failed to import: {type(e).__name__}: {e}") from e
    return module


def available_models() -> list[str]:
    """Built-in names and installed entry points (module paths are open-ended)."""
    return sorted(set(_BUILTIN_MODELS) | set(_ALIASES) | set(_entry_points(MODEL_GROUP)) | set(_zoo_names()))


def _unknown(kind: str, name: str, known: list[str], hint: str) -> ModelError:
    return ModelError(f"unknown {kind} {name!r}{did_you_mean(name, known, n=3)}; known: {', '.join(known)}. {hint}")


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


# Built-in adapters resolved by a short name (imported only when asked for).
_ALIASES = {
    "spandrel": "srfacebench.adapters.spandrel",
    "ncnn": "srfacebench.adapters.ncnn",
    "tfjs": "srfacebench.adapters.tfjs",
}
ZOO_PREFIX = "zoo:"


def _zoo_names() -> list[str]:
    from .zoo.catalogue import CATALOGUE

    return [ZOO_PREFIX + n for n in CATALOGUE]


def _zoo_ref(spec: str) -> ModelRef:
    from .zoo.catalogue import CATALOGUE

    name = spec[len(ZOO_PREFIX) :]
    if name not in CATALOGUE:
        raise _unknown("zoo model", spec, _zoo_names(), "`srfacebench zoo list` shows each with its source.")

    def load(scale: int, device: str = "cpu", root: str = "", noise: int = 0, weights: str = "") -> Any:
        from .zoo.models import loader

        return loader(name)(scale, device, root=root, noise=noise, weights=weights)

    entry = CATALOGUE[name]
    return ModelRef(spec, f"zoo ({entry.package})", load)


def resolve_models(spec: str) -> list[ModelRef]:
    """Resolve one ``--model`` value into one or more models (a zoo gives several).

    ``SPEC#N`` is SPEC again (the N-th time in a run, with its own arguments)."""
    base, hash_, nth = spec.rpartition("#")
    if hash_ and nth.isdigit() and base:
        return [replace(r, spec=r.spec.replace(base, spec, 1)) for r in resolve_models(base)]
    if spec.startswith(ZOO_PREFIX):
        return [_zoo_ref(spec)]
    if spec in _ALIASES:
        module = _import_module(_ALIASES[spec], spec)
        assert module is not None
        return _refs_from_module(module, spec, None, f"built-in adapter {_ALIASES[spec]}")
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
    if modname.endswith(".py"):
        path = Path(modname).expanduser()
        return _refs_from_module(_file_module(path, spec), spec, member or None, f"file {path}")
    if modname in _OLD_SPELLINGS or modname.split(".")[0] in _OLD_SPELLINGS:
        new = "srfacebench." + modname
        warnings.warn(f"model spec {spec!r}: write {new!r}; the old spelling goes in the next release",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return [replace(r, spec=spec) for r in resolve_models(new + (f":{member}" if member else ""))]
    cwd = os.getcwd()
    if modname and all(part.isidentifier() for part in modname.split(".")):
        module = _import_module(modname, spec)
        if module is None and cwd not in sys.path:
            # the console script does not see the current folder; look there too (documented)
            sys.path.append(cwd)
            module = _import_module(modname, spec)
        if module is not None:
            return _refs_from_module(module, spec, member or None, f"module {modname}")
    raise _unknown(
        "model",
        spec,
        available_models(),
        f"Looked for a built-in name, an entry point of group {MODEL_GROUP!r}, a module {modname!r} on "
        f"sys.path and in the current folder {cwd}, and a file path ending in .py.",
    )


def _check_embedder(obj: Any, name: str) -> Callable[..., Any]:
    """An FR network plug-in is a FaceEmbedder class (or factory), constructed with its arguments later."""
    if not callable(obj):
        raise ConfigError(f"FR network {name!r} is not a FaceEmbedder class: {obj!r}")
    return obj


#: FR networks: built-ins, then the entry-point group ``srfacebench.embedders``, then a module path
#: (``--fr mypkg.mynet``, the module's ``EMBEDDER``).
EMBEDDERS: PluginRegistry[Callable[..., Any]] = PluginRegistry(
    "FR network", EMBEDDER_GROUP, _BUILTIN_EMBEDDERS, ConfigError, "EMBEDDER", _check_embedder, instantiate=False
)


def available_embedders() -> list[str]:
    return sorted(EMBEDDERS.names())


def load_embedder(name: str, **kwargs: Any) -> Any:
    """Instantiate a FaceEmbedder by name (built-in, entry point or module path); text arguments
    (``--fr-args``) are typed by the constructor's signature, strictly (``flip=ture`` is an error)."""
    cls = EMBEDDERS.get(name)
    kwargs = bind_args(cls, kwargs, f"FR network {name!r}", skip=0)
    return cls(**kwargs)
