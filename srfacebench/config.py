"""RunConfig: everything one run depends on, frozen, from Python, the CLI or a TOML file.

A run is ``RunConfig`` → :func:`srfacebench.plan.make_plan` (pure: protocols, models, pools,
variant keys) → :func:`srfacebench.engine.execute` (align, degrade, super-resolve, embed, score)
→ files in ``out``. The CLI and :func:`srfacebench.evaluate` only build a RunConfig.

A TOML run file holds the same fields (``models``, ``protocols``, ``degradations``, ``scales``,
``embedders``, ``out``, ...; see ``docs/run-config.md``); unknown keys are errors.

Example:
    >>> cfg = RunConfig(models=("bicubic",), protocols=("lfw-verification",), scales=(4,), out="out")
    >>> cfg.degradation_specs()
    ['bicubic:4']
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .degradations import DegradationError, expand_specs
from .errors import ConfigError
from .plugins import did_you_mean

__all__ = ["DEFAULT_EMBEDDER", "ConfigError", "RunConfig", "load_run_config"]

DEFAULT_EMBEDDER = "dlib-resnet29"


def _tuple(v: Any) -> tuple[Any, ...]:
    if v is None:
        return ()
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        return (v,)
    return tuple(v)


@dataclass(frozen=True)
class RunConfig:
    """One run: models × protocols × degradations × FR networks.

    Attributes:
        models: model specs (``bicubic``, ``pkg.mod``, ``pkg.mod:name``, an entry point) or Python
            objects (a SuperResolver, or a ``(scale, device)`` loader). Bicubic and HR are always in.
        protocols: names, ``.toml`` paths or :class:`~srfacebench.protocols.Protocol` objects.
        out: the run folder.
        degradations: degradation specs (``bicubic:4``, ``blur:sigma=2+bicubic:4``, grids with
            ``{a,b}``). ``scales`` adds ``bicubic:S`` for each S. When both are empty, each
            protocol's own ``degradations`` are used.
        scales: shorthand for ``bicubic:S`` degradations.
        embedders: FR networks that embed every face (``--fr``, repeatable).
        embedder_kwargs: per embedder name, keyword arguments of its constructor (e.g. weights).
        limit: a quick subset: pairs per fold (verification) or identities (identification);
            recorded in the results and shown in the report's header.
        lenient: models failing the soft conformance checks (nondeterminism, batch dependence,
            editing their input) run anyway, with the fact recorded; otherwise they are errors.
        force: replace the results of another plan in ``out`` (otherwise refused; the same plan
            again resumes, reusing whatever its cache holds).
    """

    models: tuple[Any, ...] = ()
    model_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    protocols: tuple[Any, ...] = ()
    out: Path = Path("srfacebench-run")
    degradations: tuple[str, ...] = ()
    scales: tuple[int, ...] = ()
    embedders: tuple[str, ...] = (DEFAULT_EMBEDDER,)
    embedder_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    data_root: Path | None = None
    device: str = "cpu"
    batch_size: int = 64
    workers: int = 0
    limit: int | None = None
    cache_dir: Path | None = None
    protocols_dir: Path | None = None
    progress: bool = True
    report: bool = True
    n_boot: int = 1000
    lenient: bool = False
    force: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("models", "protocols", "degradations", "scales", "embedders"):
            set_(self, name, _tuple(getattr(self, name)))
        set_(self, "out", Path(self.out))
        for name in ("data_root", "cache_dir", "protocols_dir"):
            if getattr(self, name) is not None:
                set_(self, name, Path(getattr(self, name)))
        set_(self, "embedder_kwargs", {k: dict(v) for k, v in dict(self.embedder_kwargs).items()})
        set_(self, "model_kwargs", {k: dict(v) for k, v in dict(self.model_kwargs).items()})
        self.validate()

    def validate(self) -> None:
        """Check every value before any work starts; raise :class:`ConfigError` naming the field."""
        if not self.protocols:
            raise ConfigError("at least one protocol is needed (--protocol)")
        for s in self.scales:
            if not isinstance(s, int) or isinstance(s, bool) or s < 2:
                raise ConfigError(f"scale must be an integer >= 2, got {s!r}")
        if not self.embedders:
            raise ConfigError("at least one FR network is needed (--fr)")
        if len(set(self.embedders)) != len(self.embedders):
            raise ConfigError(f"an FR network is named twice: {list(self.embedders)}")
        stray = set(self.model_kwargs) - {m for m in self.models if isinstance(m, str)}
        if stray:
            raise ConfigError(f"arguments given for models that are not in the run: {sorted(stray)}")
        unknown = set(self.embedder_kwargs) - set(self.embedders)
        if unknown:
            raise ConfigError(f"arguments given for FR networks that are not in the run: {sorted(unknown)}")
        for name in ("batch_size", "n_boot"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        for name in ("progress", "report", "lenient", "force"):  # "false" in a TOML is text, and text is truthy
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{name} must be true or false (a TOML boolean, unquoted), got {getattr(self, name)!r}"
                )
        if not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"workers must be an integer >= 0, got {self.workers!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ConfigError(f"limit must be a positive integer, got {self.limit!r}")
        _check_device(self.device)
        try:
            self.degradation_specs()
        except DegradationError as e:
            raise ConfigError(str(e)) from None

    def degradation_specs(self) -> list[str]:
        """The run-wide degradation labels (``scales`` as ``bicubic:S`` first), canonical, no duplicates."""
        return expand_specs([f"bicubic:{s}" for s in self.scales] + list(self.degradations))

    def replace(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form recorded in ``results.json`` (Python model objects by their names)."""
        d: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "models":
                v = [
                    m if isinstance(m, str) else f"python:{getattr(getattr(m, 'info', None), 'name', repr(m))}"
                    for m in v
                ]
            elif f.name == "protocols":
                v = [p if isinstance(p, str) else getattr(p, "name", str(p)) for p in v]
            elif isinstance(v, Path):
                v = str(v)
            elif isinstance(v, tuple):
                v = list(v)
            d[f.name] = v
        return d


def _check_device(device: str) -> None:
    import re

    if not isinstance(device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?|mps", device):
        raise ConfigError(f"device must be cpu, cuda, cuda:N or mps, got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but this torch ({torch.__version__}) sees no CUDA device")


_FIELDS = {f.name for f in fields(RunConfig)}


def load_run_config(path: str | Path, **overrides: Any) -> RunConfig:
    """A RunConfig from a TOML file; relative paths in it are relative to the file's folder.

    Raises:
        ConfigError: for invalid TOML or an unknown key (with a "did you mean").
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: run config not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    for key in raw:
        if key not in _FIELDS:
            raise ConfigError(f"{path}: unknown key {key!r}{did_you_mean(key, _FIELDS)}")
    for key in ("out", "data_root", "cache_dir", "protocols_dir"):
        if key in raw:
            raw[key] = path.parent / raw[key]
    raw["protocols"] = [
        str(path.parent / p) if isinstance(p, str) and p.endswith(".toml") else p for p in raw.get("protocols", [])
    ]
    raw |= {k: v for k, v in overrides.items() if v is not None}
    try:
        return RunConfig(**raw)
    except TypeError as e:
        raise ConfigError(f"{path}: {e}") from None
