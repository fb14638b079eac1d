"""Protocol specifications: TOML files loaded into typed, validated ``Protocol`` objects.

Built-in specs live beside this module (``srfacebench/protocols/*.toml``); a user adds one by passing a folder of
``*.toml`` files (``--protocols-dir``) or a path to a ``.toml`` file as the protocol name.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.loaders import LOADERS, DatasetLoader
from ..degradations import DegradationError, expand_specs
from ..errors import ProtocolError
from ..plugins import did_you_mean
from ..tasks import Task, get_task, intrinsic_task

__all__ = ["DatasetSpec", "MetricSpec", "Protocol", "available_protocols", "load_protocol"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool


@dataclass(frozen=True)
class DatasetSpec:
    """Where a protocol's faces come from: ``loader`` reads ``root`` (relative to --data-root)."""

    name: str
    loader: str
    root: str
    options: dict[str, Any] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    task: str
    main_score: str
    dataset: DatasetSpec
    metrics: tuple[MetricSpec, ...]
    align_size: int = 160
    align_padding: float = 0.25
    exclude_fallback: bool = False
    options: Any = None  # the task's options (its TOML table, parsed by the task)
    degradations: tuple[str, ...] = ()
    description: str = ""
    citation: str = ""
    source: str = ""

    def metric(self, name: str) -> MetricSpec:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def task_object(self) -> Task:
        return get_task(self.task, self.source)

    def to_dict(self) -> dict[str, Any]:
        task = self.task_object
        out = {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "main_score": self.main_score,
            "dataset": {**self.dataset.__dict__},
            "metrics": {m.name: {"higher_is_better": m.higher_is_better} for m in self.metrics},
            "alignment": {
                "size": self.align_size,
                "padding": self.align_padding,
                "exclude_fallback": self.exclude_fallback,
            },
            "degradations": list(self.degradations),
            "source": self.source,
        }
        if task.options_section is not None:
            out[task.options_section] = task.options_dict(self.options)
        elif self.task != "identification":
            out["identification"] = None  # as results.json has always recorded for other tasks
        return out


def _require(d: dict[str, Any], key: str, where: str, typ: type | tuple[type, ...] = str) -> Any:
    if key not in d:
        raise ProtocolError(f"{where}: missing key {key!r}")
    if not isinstance(d[key], typ):
        raise ProtocolError(f"{where}: {key!r} must be {typ}, got {d[key]!r}")
    return d[key]


_SCHEMA: dict[str, set[str] | None] = {
    # top-level key -> the keys its table accepts (None: a plain value)
    "name": None, "version": None, "task": None, "description": None, "main_score": None, "citation": None,
    "degradations": None,
    "dataset": {"name", "loader", "root", "checksums"},  # and the loader's options
    "alignment": {"size", "padding", "exclude_fallback"},
    "metrics": None,
}  # fmt: skip


def _unknown_key(key: str, known: Any, where: str) -> ProtocolError:
    hint = did_you_mean(key, known)
    return ProtocolError(f"{where}: unknown key {key!r}{hint}; known: {', '.join(sorted(known))}")


def _check_schema(raw: dict[str, Any], source: str, task: Task, loader: DatasetLoader) -> None:
    schema = dict(_SCHEMA)
    schema["dataset"] = {"name", "loader", "root", "checksums"} | set(loader.options)
    if task.options_section is not None:
        schema[task.options_section] = set(task.option_keys)
    for key, value in raw.items():
        if key not in schema:
            raise _unknown_key(key, schema, source)
        sub = schema[key]
        if sub is not None:
            if not isinstance(value, dict):
                raise ProtocolError(f"{source}: [{key}] must be a table")
            for k in value:
                if k not in sub:
                    raise _unknown_key(k, sub, f"{source} [{key}]")


def _flag(value: Any, what: str, source: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{source}: {what} must be true or false, got {value!r}")
    return value


def _positive_int(value: Any, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProtocolError(f"{source}: {what} must be a positive integer, got {value!r}")
    return value


def parse_protocol(text: str, source: str) -> Protocol:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProtocolError(f"{source}: invalid TOML: {e}") from None
    task = _require(raw, "task", source)
    task_obj = get_task(task, source)
    ds = _require(raw, "dataset", source, dict)
    loader = _require(ds, "loader", f"{source} [dataset]")
    loader_obj = LOADERS.get(loader, source)
    _check_schema(raw, source, task_obj, loader_obj)
    name = _require(raw, "name", source)
    if not task_obj.needs <= loader_obj.provides:
        raise ProtocolError(
            f"{source}: dataset loader {loader!r} cannot serve task {task!r} (it needs "
            f"{', '.join(sorted(task_obj.needs))}; the loader gives {', '.join(sorted(loader_obj.provides))})"
        )
    options = {k: v for k, v in ds.items() if k not in ("name", "loader", "root", "checksums")}
    ds_name = ds.get("name")
    if isinstance(ds_name, str) and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", ds_name):
        raise ProtocolError(f"{source}: [dataset] name {ds_name!r} must be letters, digits, '.', '_' or '-'")
    for key in ("min_images", "images_per_identity", "max_images"):
        v = options.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ProtocolError(f"{source}: [dataset] {key} must be a positive integer, got {v!r}")
    if "labels" in task_obj.needs and options.get("min_images", 2) < 2:
        raise ProtocolError(
            f"{source}: [dataset] min_images = {options['min_images']}: an identity with one image has no match "
            f"to find; {task} needs at least 2"
        )
    section = task_obj.options_section
    task_options = task_obj.parse_options(raw.get(section, {}) if section else {}, source)
    catalogue = {**task_obj.metrics(task_options), **intrinsic_task().metrics(None)}
    metrics_raw = _require(raw, "metrics", source, dict)
    metrics = []
    for k, v in metrics_raw.items():
        info = catalogue.get(k)
        if info is None:
            raise _unknown_key(k, catalogue, f"{source} [metrics] (task {task!r})")
        if isinstance(v, dict) and set(v) - {"higher_is_better"}:
            raise _unknown_key(
                next(iter(set(v) - {"higher_is_better"})), {"higher_is_better"}, f"{source} [metrics.{k}]"
            )
        declared = v.get("higher_is_better") if isinstance(v, dict) else None
        if declared is not None and declared is not info.higher_is_better:
            raise ProtocolError(f"{source}: [metrics.{k}] higher_is_better = {declared} contradicts the catalogue")
        metrics.append(MetricSpec(k, info.higher_is_better))
    main = _require(raw, "main_score", source)
    if main not in metrics_raw:
        raise ProtocolError(f"{source}: main_score {main!r} is not among the metrics {list(metrics_raw)}")
    degradations = raw.get("degradations", [])
    if not isinstance(degradations, list) or not all(isinstance(d, str) for d in degradations):
        raise ProtocolError(f"{source}: degradations must be a list of spec strings, got {degradations!r}")
    try:
        degradations = expand_specs(degradations)
    except DegradationError as e:
        raise ProtocolError(f"{source}: {e}") from None
    align = raw.get("alignment", {})
    size = align.get("size", 160)
    if isinstance(size, bool) or not isinstance(size, int) or not 32 <= size <= 1024:
        raise ProtocolError(f"{source}: [alignment] size must be an integer in 32..1024, got {size!r}")
    return Protocol(
        name=name,
        version=str(_require(raw, "version", source)),
        task=task,
        main_score=main,
        dataset=DatasetSpec(
            name=_require(ds, "name", f"{source} [dataset]"),
            loader=loader,
            root=_require(ds, "root", f"{source} [dataset]"),
            options=options,
            checksums=dict(ds.get("checksums", {})),
        ),
        options=task_options,
        metrics=tuple(metrics),
        degradations=tuple(degradations),
        align_size=size,
        align_padding=float(align.get("padding", 0.25)),
        exclude_fallback=_flag(align.get("exclude_fallback", False), "[alignment] exclude_fallback", source),
        description=raw.get("description", ""),
        citation=raw.get("citation", ""),
        source=source,
    )


def _builtin_files() -> dict[str, Any]:
    files = importlib.resources.files("srfacebench.protocols")
    return {p.name[:-5]: p for p in files.iterdir() if p.name.endswith(".toml")}


def available_protocols(protocols_dir: str | Path | None = None) -> dict[str, str]:
    """Protocol name -> where its spec comes from."""
    found = {name: f"built-in ({p.name})" for name, p in _builtin_files().items()}
    if protocols_dir is not None:
        for p in sorted(Path(protocols_dir).glob("*.toml")):
            found[p.stem] = str(p)
    return found


def load_protocol(name: str | Path, protocols_dir: str | Path | None = None) -> Protocol:
    """Load a protocol by name (user folder first, then built-ins) or by ``.toml`` path."""
    path = Path(name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ProtocolError(f"{path}: protocol file not found")
        return parse_protocol(path.read_text(encoding="utf-8"), str(path))
    if protocols_dir is not None:
        candidate = Path(protocols_dir) / f"{name}.toml"
        if candidate.is_file():
            return parse_protocol(candidate.read_text(encoding="utf-8"), str(candidate))
    builtins = _builtin_files()
    if str(name) in builtins:
        return parse_protocol(builtins[str(name)].read_text(encoding="utf-8"), f"built-in {name}.toml")
    known = sorted(available_protocols(protocols_dir))
    hint = did_you_mean(str(name), known, n=3)
    raise ProtocolError(f"unknown protocol {str(name)!r}{hint}; known: {', '.join(known)}")
