"""Tasks: what a protocol does with a pool's embeddings, each one module.

A :class:`Task` owns everything that depends on its kind: the metrics it can produce (the
catalogue a protocol selects from), the options table of its protocol TOML, what its dataset must
provide, the checks a face set must pass before any work, its scoring, its per-item CSV (columns
derived from its options), and — on the report's side, with numpy/pandas/scipy only — its
bootstrap replicates, its paired tests and its curves. The engine, the protocol loader, the
leaderboard and the report dispatch through :data:`TASKS`; nothing else switches on a task's name.

Built-ins: ``verification``, ``identification``, ``centroid``; ``intrinsic`` (PSNR/SSIM/FR loss
against HR) runs beside every protocol. A third-party task is a module path in the protocol's
``task = "pkg.module"`` (the module's ``TASK``) or an entry point in the group
``srfacebench.tasks``; see ``docs/design.md``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import DataError, ProtocolError
from ..metrics.catalogue import MetricInfo
from ..plugins import PluginRegistry

if TYPE_CHECKING:
    import pandas as pd

    from ..data.faceset import FaceSet
    from ..protocols import Protocol

__all__ = [
    "AXES",
    "TASKS",
    "Curves",
    "ItemView",
    "Task",
    "TaskInput",
    "TaskOutput",
    "TaskScore",
    "csv_text",
    "get_task",
    "intrinsic_metrics",
    "intrinsic_task",
    "score_protocol",
]

AXES = ["protocol", "model", "scale", "degradation", "embedder"]  # the first columns of every per-item CSV


@dataclass(frozen=True)
class TaskInput:
    """One variant's faces as a task sees them (embeddings already prepared for the network's
    distance: L2-normalised for cosine networks)."""

    protocol: Protocol
    faceset: FaceSet
    model: str
    degradation: str
    is_hr: bool
    emb: np.ndarray  # (N, d) this variant's embeddings, in faceset order
    hr_emb: np.ndarray  # (N, d) the HR embeddings of the same images
    iq: np.ndarray | None  # (N, 2) PSNR-Y, SSIM-Y against HR (None for HR)
    device: str = "cpu"
    distance: str = "euclidean"  # the FR network's: "cosine" embeddings arrive L2-normalised


@dataclass
class TaskScore:
    """What a task made of one variant: metric -> (value, std), the number of items they rest on,
    a JSON detail (curves, per-fold numbers) and per-item rows (after the axes columns)."""

    metrics: dict[str, tuple[float, float | None]]
    n: int
    detail: dict[str, Any] = field(default_factory=dict)
    items: list[list[Any]] = field(default_factory=list)


@dataclass
class Curves:
    """A line figure a task asks the report to draw (the report owns matplotlib)."""

    title: str
    xlabel: str
    ylabel: str
    series: list[tuple[str, np.ndarray, np.ndarray]]  # label, x, y
    xlog: bool = False
    legend_loc: str = "best"


@dataclass
class ItemView:
    """One protocol × FR network as the report sees it: per variant (model, degradation) its
    per-item rows and its results.json detail, each from the run that stands for the variant."""

    protocol: str
    embedder: str
    options: dict[str, Any] | None
    items: dict[tuple[str, str], pd.DataFrame]
    details: dict[tuple[str, str], dict[str, Any]]


class Task:
    """Base class of a task; subclasses set the class attributes and override what they do."""

    name: ClassVar[str] = ""
    #: what the dataset loader must provide: "pairs" (verification pairs) and/or "labels" (identities)
    needs: ClassVar[frozenset[str]] = frozenset()
    #: the per-item CSV this task writes (shared by protocols of the same task; columns are merged)
    items_file: ClassVar[str | None] = None
    #: the protocol TOML table holding this task's options, and the keys it accepts
    options_section: ClassVar[str | None] = None
    option_keys: ClassVar[frozenset[str]] = frozenset()
    #: metrics that do not depend on the FR network (tested once, not once per network)
    fr_independent: ClassVar[frozenset[str]] = frozenset()
    #: whether the HR variant is scored (False for metrics *against* HR)
    scores_hr: ClassVar[bool] = True
    #: appended to the protocol's name to seed this task's bootstrap draws
    bootstrap_tag: ClassVar[str] = ""
    #: how the numbers are computed, recorded in results.json (provenance.conventions)
    convention: ClassVar[str] = ""

    # -- protocol side ---------------------------------------------------------------------------
    def parse_options(self, raw: Mapping[str, Any], source: str) -> Any:
        """The task's options from its TOML table (``raw`` is ``{}`` when absent)."""
        if raw:
            raise ProtocolError(f"{source}: task {self.name!r} takes no options")
        return None

    def options_dict(self, options: Any) -> dict[str, Any] | None:
        """The options as recorded in results.json (read back by the report)."""
        return None if options is None else dict(options.__dict__)

    def metrics(self, options: Any) -> dict[str, MetricInfo]:
        """The catalogue of metrics this task can produce with these options."""
        raise NotImplementedError

    def columns(self, options: Any) -> list[str]:
        """Per-item CSV columns after :data:`AXES`."""
        return []

    def check(self, protocol: Protocol, faceset: FaceSet, where: str) -> None:
        """Refuse, before any work, a set this task cannot score (raise DataError naming why)."""

    def exclude(self, protocol: Protocol, faceset: FaceSet, drop: set[str]) -> tuple[FaceSet, np.ndarray, list[str]]:
        """The set without ``drop`` (images aligned by the fallback box); returns the set, the
        kept positions and notes. Checked again with :meth:`check`."""
        from ..data.faceset import without_images

        fs, kept = without_images(faceset, drop)
        self.check(protocol, fs, f"protocol {protocol.name!r} after [alignment] exclude_fallback")
        return fs, kept, []

    # -- engine side -----------------------------------------------------------------------------
    def score(self, x: TaskInput) -> TaskScore:
        raise NotImplementedError

    def notes(self, score: TaskScore, where: str) -> list[str]:
        """Lines for the run's notes about this score (e.g. an approximate search and its recall);
        ``where`` names the protocol, variant and FR network."""
        return []

    # -- report side (numpy, pandas, scipy; never torch) --------------------------------------------
    def replicates(
        self, items: pd.DataFrame, options: dict[str, Any] | None, n_boot: int, seed: int, tag: str
    ) -> dict[str, np.ndarray]:
        """Bootstrap replicates per metric of one variant from its per-item rows (same draws for
        every variant given the same tag)."""
        return {}

    def paired_tests(
        self, a: pd.DataFrame, b: pd.DataFrame, reps_a: dict[str, np.ndarray], reps_b: dict[str, np.ndarray]
    ) -> list[tuple[str, float, str]]:
        """(metric, p, test name) comparing two variants on the same items."""
        return []

    def curves(self, view: ItemView, degradation: str) -> list[Curves]:
        """Figures of one FR network under one degradation (HR included)."""
        return []


def _check_task(obj: Any, name: str) -> Task:
    missing = [a for a in ("name", "metrics", "score", "columns", "check") if not hasattr(obj, a)]
    if missing or not isinstance(obj.name, str) or not obj.name:
        raise ProtocolError(
            f"task {name!r} is not a Task (missing {missing or ['a name']}); subclass srfacebench.tasks.Task"
        )
    return obj


TASKS: PluginRegistry[Task] = PluginRegistry(
    "task",
    "srfacebench.tasks",
    {
        "verification": "srfacebench.tasks.verification:TASK",
        "identification": "srfacebench.tasks.identification:TASK",
        "centroid": "srfacebench.tasks.centroid:TASK",
    },
    ProtocolError,
    "TASK",
    _check_task,
)


def get_task(name: str, where: str = "") -> Task:
    """The task a protocol names (built-in, entry point, or module path)."""
    return TASKS.get(name, where)


def intrinsic_task() -> Task:
    """The task that runs beside every protocol: PSNR-Y, SSIM-Y and FR loss against HR."""
    from .intrinsic import TASK

    return TASK


def intrinsic_metrics() -> tuple[str, ...]:
    """The intrinsic task's metric keys (``psnr_y``, ``ssim_y``, ``fr_loss``), from the task itself."""
    return tuple(intrinsic_task().metrics(None))


def tasks_of(protocol_task: str) -> list[Task]:
    """The protocol's task, then intrinsic."""
    return [get_task(protocol_task), intrinsic_task()]


# -- scoring -------------------------------------------------------------------------------------
@dataclass
class TaskOutput:
    rows: list[Any] = field(default_factory=list)  # MetricRow
    details: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)  # file -> (columns, rows)
    notes: list[str] = field(default_factory=list)


def l2_normalise(e: np.ndarray) -> np.ndarray:
    e = e.astype(np.float64)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def score_protocol(
    protocol: Protocol,
    faceset: FaceSet,
    index: np.ndarray,
    variants: list[Any],
    embs: dict[str, np.ndarray],
    iqs: dict[str, np.ndarray],
    embedder_name: str,
    distance: str = "euclidean",
    device: str = "cpu",
) -> TaskOutput:
    """All rows of one protocol for one FR network: its task's metrics per variant and the
    intrinsic metrics per SR variant.

    ``index[i]`` is the pool position of ``faceset.paths[i]``; ``variants`` have ``id``, ``model``,
    ``scale``, ``degradation`` and ``is_hr``; ``embs`` and ``iqs`` are keyed by variant id. With
    ``distance="cosine"`` embeddings are L2-normalised first (pair distances, kNN ranks and FR
    losses are then those of cosine similarity).
    """
    from ..results import MetricRow

    if distance not in ("euclidean", "cosine"):
        raise ValueError(f"FR network {embedder_name!r}: unknown distance {distance!r}")
    out = TaskOutput()
    prep = l2_normalise if distance == "cosine" else (lambda e: e)
    hr = next(v for v in variants if v.is_hr)
    hr_emb = prep(embs[hr.id][index])
    wanted = {m.name for m in protocol.metrics}
    tasks = tasks_of(protocol.task)
    headers = {t.name: [*AXES, *t.columns(protocol.options if t.name == protocol.task else None)] for t in tasks}
    for v in variants:  # variant-major, as results.csv has always been ordered
        for task in tasks:
            if v.is_hr and not task.scores_hr:
                continue
            x = TaskInput(protocol, faceset, v.model, v.degradation, v.is_hr, prep(embs[v.id][index]), hr_emb,
                          None if v.is_hr else iqs[v.id][index], device, distance)  # fmt: skip
            res = task.score(x)
            notes = getattr(task, "notes", None)  # a third-party task may predate the hook
            if notes is not None:
                where = f"{protocol.name} {v.model} {v.degradation} ({embedder_name})"
                out.notes += notes(res, where)
            for metric, (value, std) in res.metrics.items():
                if metric in wanted:
                    out.rows.append(MetricRow(v.model, v.scale, v.degradation, protocol.name, faceset.name,
                                              embedder_name, metric, value, std, res.n))  # fmt: skip
            if res.detail:
                out.details.append({"model": v.model, "scale": v.scale, "degradation": v.degradation,
                                    "embedder": embedder_name, "protocol": protocol.name} | res.detail)  # fmt: skip
            if task.items_file is not None and res.items:
                header = headers[task.name]
                head = [protocol.name, v.model, v.scale, v.degradation, embedder_name]
                _, rows = out.items.setdefault(task.items_file, (header, []))
                rows += [dict(zip(header, [*head, *r], strict=True)) for r in res.items]
    return out


def merge_items(outputs: list[TaskOutput]) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """Per-item file -> (the union of its columns in first-seen order, all rows)."""
    merged: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    for o in outputs:
        for fname, (cols, rows) in o.items.items():
            mcols, mrows = merged.setdefault(fname, ([], []))
            mcols += [c for c in cols if c not in mcols]
            mrows += rows
    return merged


def csv_text(header: list[str], rows: list[dict[str, Any]]) -> str:
    """Per-item rows (dicts) as CSV; a column a row lacks (another protocol's) is left empty."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, header, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def require_labels(protocol: Protocol, faceset: FaceSet, where: str, min_ids: int = 1) -> None:
    """At least ``min_ids`` identities with two or more images (shared by label tasks; distractors,
    labelled < 0, are no identity)."""
    labels = np.asarray(faceset.labels)
    _, counts = np.unique(labels[labels >= 0], return_counts=True)
    if int((counts >= 2).sum()) < min_ids:
        raise DataError(
            f"{where}: {int((counts >= 2).sum())} identities with two or more images in {faceset.root}; "
            f"task {protocol.task!r} needs at least {min_ids}"
        )


def exclude_with_singletons(
    task: Task, protocol: Protocol, faceset: FaceSet, drop: set[str]
) -> tuple[FaceSet, np.ndarray, list[str]]:
    """:meth:`Task.exclude` for label tasks: identities left with one image are dropped with it
    (a probe whose mates were excluded would count as a miss)."""
    from ..data.faceset import without_images

    fs, kept = without_images(faceset, drop)
    labels, counts = np.unique(fs.labels, return_counts=True)
    single = set(labels[(counts < 2) & (labels >= 0)].tolist())  # a lone distractor is no identity
    notes = []
    if single:
        fs, kept2 = without_images(fs, {p for p, lab in zip(fs.paths, fs.labels, strict=True) if int(lab) in single})
        kept = kept[kept2]
        notes.append(
            f"{protocol.name}: {len(single)} identities left with one image by exclude_fallback dropped with it"
        )
    task.check(protocol, fs, f"protocol {protocol.name!r} after [alignment] exclude_fallback")
    return fs, kept, notes
