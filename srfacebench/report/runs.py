"""Loading and merging run folders into DataFrames (``srfacebench.load_runs``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..results import RunResult

__all__ = ["RunSet", "load_runs"]

MERGE_TOL = 1e-9
_KEY = ["model", "scale", "degradation", "protocol", "embedder", "metric"]
VARIANT = ["model", "degradation", "embedder"]


@dataclass
class RunSet:
    """Several runs merged: one row per (model, degradation, embedder, protocol, metric).

    Rows that differ in any axis are kept apart; a number present in several runs must agree.

    Attributes:
        results: tidy rows with a ``run`` column (the folder the number comes from).
        pairs, probes, images: the per-item CSVs of all runs, each with a ``run`` column.
        protocols: protocol name -> its spec as recorded in results.json.
        provenance: run folder -> provenance dict.
    """

    results: pd.DataFrame
    pairs: pd.DataFrame
    probes: pd.DataFrame
    images: pd.DataFrame
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: dict[str, Path] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)  # results.json details, with "run"

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


def load_runs(run_dirs: list[str | Path]) -> RunSet:
    """Load and merge run folders. A number present in several runs (the HR and bicubic
    baselines) must agree to 1e-9, else the runs measured different things and merging fails.

    Example:
        >>> runs = load_runs(["runs/a", "runs/b"])  # doctest: +SKIP
        >>> runs.results.pivot_table(index=["model", "scale"], columns="metric", values="value")  # doctest: +SKIP
    """
    if not run_dirs:
        raise DataError("no run folders given")
    frames, pairs, probes, images = [], [], [], []
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
        pairs.append(_read_csv(d / "pairs.csv", run, first_emb))
        probes.append(_read_csv(d / "probes.csv", run, first_emb))
        images.append(_read_csv(d / "images.csv", run, first_emb))
        if (d / "samples").is_dir():
            samples[run] = d / "samples"
    results = pd.concat(frames, ignore_index=True)
    first = results.drop_duplicates(_KEY, keep="first")
    check = results.merge(first[[*_KEY, "value", "run"]], on=_KEY, suffixes=("", "_first"))
    bad = check[(check.value - check.value_first).abs() > MERGE_TOL]
    if not bad.empty:
        b = bad.iloc[0]
        raise DataError(
            f"runs disagree on {b.model} under {b.degradation}, FR {b.embedder}, {b.protocol} {b.metric}: "
            f"{b.value!r} in {b.run} vs {b.value_first!r} in {b.run_first}; merge only runs of the same "
            "protocol version and data"
        )
    return RunSet(
        results=first.reset_index(drop=True),
        pairs=pd.concat(pairs, ignore_index=True),
        probes=pd.concat(probes, ignore_index=True),
        images=pd.concat(images, ignore_index=True),
        protocols=protocols,
        provenance=provenance,
        samples=samples,
        details=details,
    )
