"""Loading and merging run folders into DataFrames (``srfacebench.load_runs``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..results import RunResult
from ..tasks import Task, tasks_of

__all__ = ["RunSet", "load_runs"]

MERGE_TOL = 1e-9  # runs that record no model identities must agree this closely
_KEY = ["model", "scale", "degradation", "protocol", "embedder", "metric"]
VARIANT = ["model", "degradation", "embedder"]


@dataclass
class RunSet:
    """Several runs merged: one row per (model, degradation, embedder, protocol, metric).

    Rows that differ in any axis are kept apart; a number present in several runs must agree.

    Attributes:
        results: tidy rows with a ``run`` column (the folder the number comes from).
        items: per-item CSV name (a task's ``items_file``: ``pairs.csv``, ``probes.csv``,
            ``images.csv``, ...) -> the rows of all runs, with a ``run`` column.
        protocols: protocol name -> its spec as recorded in results.json.
        provenance: run folder -> provenance dict.
    """

    results: pd.DataFrame
    items: dict[str, pd.DataFrame] = field(default_factory=dict)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: dict[str, Path] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)  # results.json details, with "run"
    notes: list[str] = field(default_factory=list)  # what merging found (numbers kept from the first run)

    def item_frame(self, fname: str | None) -> pd.DataFrame:
        """The merged rows of one per-item CSV (empty when no run wrote it)."""
        return self.items.get(fname or "", pd.DataFrame())

    @property
    def pairs(self) -> pd.DataFrame:
        return self.item_frame("pairs.csv")

    @property
    def probes(self) -> pd.DataFrame:
        return self.item_frame("probes.csv")

    @property
    def images(self) -> pd.DataFrame:
        return self.item_frame("images.csv")

    def source(self, protocol: str, model: str, degradation: str, embedder: str) -> str:
        """The run folder whose numbers (and per-item data) stand for this variant."""
        r = self.results
        hit = r[
            (r.protocol == protocol) & (r.model == model) & (r.degradation == degradation) & (r.embedder == embedder)
        ]
        return str(hit.run.iloc[0])

    @property
    def subsets(self) -> dict[str, str]:
        """Run folder -> how it was a subset (``--limit``), for runs that were."""
        out = {}
        for run, prov in self.provenance.items():
            limit = prov.get("limit", prov.get("limit_pairs_per_fold"))
            if limit is not None:
                out[run] = prov.get("subset") or f"--limit {limit} (pairs per fold)"
        return out

    def tasks(self, protocol: str) -> list[Task]:
        """The protocol's task as its run recorded it, then intrinsic."""
        return tasks_of(str(self.protocols[protocol].get("task")))

    def options(self, protocol: str, task: Task) -> dict[str, Any] | None:
        """The task's options as the run recorded them (its TOML table)."""
        section = task.options_section
        return self.protocols[protocol].get(section) if section else None

    def higher_is_better(self, protocol: str, metric: str) -> bool:
        return bool(self.protocols[protocol]["metrics"][metric]["higher_is_better"])


def _read_csv(path: Path, run: str, embedder: str) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    df = pd.read_csv(path, keep_default_na=False, dtype={"image": str, "image_a": str, "image_b": str})
    if "degradation" not in df.columns:  # schema v1 per-item CSVs
        from ..results import v1_degradation

        df.insert(3, "degradation", [v1_degradation(s) for s in df["scale"]])
    if "embedder" not in df.columns:
        df.insert(4, "embedder", embedder)
    df.insert(0, "run", run)
    return df


def item_files(prov: dict[str, Any]) -> list[str]:
    """The per-item CSVs a run wrote: as it recorded them (``files``), else (older runs) those
    of the built-in tasks."""
    files = prov.get("files")
    if isinstance(files, list):
        return [f for f in files if isinstance(f, str) and Path(f).name == f and f.endswith(".csv")]
    return ["pairs.csv", "probes.csv", "images.csv"]


def load_runs(run_dirs: list[str | Path]) -> RunSet:
    """Load and merge run folders. A number present in several runs (the HR and bicubic
    baselines) must agree to 1e-9, else the runs measured different things and merging fails.

    Example:
        >>> runs = load_runs(["runs/a", "runs/b"])  # doctest: +SKIP
        >>> runs.results.pivot_table(index=["model", "scale"], columns="metric", values="value")  # doctest: +SKIP
    """
    if not run_dirs:
        raise DataError("no run folders given")
    frames: list[pd.DataFrame] = []
    items: dict[str, list[pd.DataFrame]] = {}
    protocols: dict[str, dict[str, Any]] = {}
    provenance: dict[str, dict[str, Any]] = {}
    samples: dict[str, Path] = {}
    details: list[dict[str, Any]] = []
    for d in run_dirs:
        d = Path(d)
        if not (d / "results.json").is_file():
            raise DataError(f"{d}: not a run folder (no results.json)")
        try:
            res = RunResult.load(d)
        except (ValueError, KeyError) as e:
            raise DataError(f"{d / 'results.json'}: {e}") from None
        run = str(d)
        df = res.to_frame()
        df.insert(0, "run", run)
        frames.append(df)
        provenance[run] = res.provenance
        details += [dict(x, run=run) for x in res.details]
        for p in res.provenance.get("protocols", []):
            known = protocols.get(p["name"])
            if known is not None and known.get("version") != p.get("version"):
                raise DataError(
                    f"{d}: protocol {p['name']!r} version {p.get('version')} differs from version "
                    f"{known.get('version')} of an earlier run; merge runs of one protocol version"
                )
            protocols.setdefault(p["name"], p)
        first_emb = str(res.provenance.get("embedder", {}).get("name", ""))
        for fname in item_files(res.provenance):
            items.setdefault(fname, []).append(_read_csv(d / fname, run, first_emb))
        if (d / "samples").is_dir():
            samples[run] = d / "samples"
    results = pd.concat(frames, ignore_index=True)
    first = results.drop_duplicates(_KEY, keep="first")
    notes = _check_merge(results, first, provenance)
    return RunSet(
        results=first.reset_index(drop=True),
        items={f: pd.concat(dfs, ignore_index=True) for f, dfs in items.items()},
        protocols=protocols,
        provenance=provenance,
        samples=samples,
        details=details,
        notes=notes,
    )


def _identity(prov: dict[str, Any], row: Any) -> dict[str, Any] | None:
    """What made one number, as its run recorded it: the model variant's identity (spec, bound
    arguments, weights and code digests), the FR network's, the degradation's, the protocol's
    version and its data's checksums and subset. None for runs that record no model identities."""
    infos = prov.get("model_infos")
    if not infos:
        return None
    vid = f"{row.model}|{row.degradation}"
    proto = next((p for p in prov.get("protocols", []) if p.get("name") == row.protocol), {})
    return {
        "model": infos.get(vid),
        "fr network": prov.get("embedders", {}).get(row.embedder),
        "degradation": prov.get("degradations", {}).get(row.degradation, row.degradation),
        "protocol version": proto.get("version"),
        "data": prov.get("data_checksums", {}).get(row.protocol),
        "subset": prov.get("limit"),
    }


def _check_merge(results: pd.DataFrame, first: pd.DataFrame, provenance: dict[str, dict[str, Any]]) -> list[str]:
    """A number present in several runs is merged when the runs record the same identity for it
    (the first run's value is kept; a difference from floating-point noise across machines or
    batch sizes is noted, never refused). Runs that record different identities measured
    different things: refused, naming what differs. Runs without identities (older schemas)
    must agree to MERGE_TOL."""
    check = results.merge(first[[*_KEY, "value", "run"]], on=_KEY, suffixes=("", "_first"))
    check = check[check.run != check.run_first]
    notes: list[str] = []
    noise: dict[tuple[str, str], float] = {}
    for row in check.itertuples(index=False):
        where = f"{row.model} under {row.degradation}, FR {row.embedder}, {row.protocol} {row.metric}"
        a, b = _identity(provenance[row.run_first], row), _identity(provenance[row.run], row)
        diff = abs(row.value - row.value_first) if pd.notna(row.value) and pd.notna(row.value_first) else 0.0
        if a is None or b is None:
            if diff > MERGE_TOL or (pd.isna(row.value) != pd.isna(row.value_first)):
                raise DataError(
                    f"runs disagree on {where}: {row.value!r} in {row.run} vs {row.value_first!r} in "
                    f"{row.run_first}; merge only runs of the same protocol version and data"
                )
            continue
        differs = [k for k in a if a[k] != b[k]]
        if differs:
            raise DataError(
                f"runs measured different things for {where}: the {' and the '.join(differs)} recorded in "
                f"{row.run} differ from {row.run_first}'s ({row.value!r} vs {row.value_first!r}); "
                "merge runs of the same models, FR networks, degradations and data, or rename a model"
            )
        if diff > MERGE_TOL:
            k = (row.run, row.run_first)
            noise[k] = max(noise.get(k, 0.0), diff)
    for (run, run_first), d in noise.items():
        notes.append(
            f"{run} and {run_first} recorded the same identities but numbers differing by up to {d:.3g} "
            f"(floating-point differences across machines or batch sizes); {run_first}'s numbers are shown"
        )
    return notes
