"""Typed results: tidy metric rows and a RunResult with provenance, to and from disk."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .io import atomic_write_text

__all__ = ["RESULT_COLUMNS", "SCHEMA_VERSION", "MetricRow", "RunResult"]

SCHEMA_VERSION = 2
RESULT_COLUMNS = ["model", "scale", "degradation", "protocol", "dataset", "embedder", "metric", "value", "std", "n"]
HR_DEGRADATION = "none"
HR = "hr"  # the model name of the HR rows (the upper bound every run includes)
BICUBIC = "bicubic"  # the LR baseline every run includes


def v1_degradation(scale: int) -> str:
    """The degradation a schema-v1 row at ``scale`` was made with (v1 knew only MATLAB bicubic)."""
    return HR_DEGRADATION if int(scale) == 1 else f"bicubic:{int(scale)}"


def upgrade_v1(d: dict[str, Any]) -> dict[str, Any]:
    """Convert a schema-v1 ``results.json`` dict to v2: every row and detail gets its degradation."""
    out = dict(d, schema_version=2)
    out["rows"] = [dict(r, degradation=v1_degradation(r["scale"])) for r in d.get("rows", [])]
    details = []
    for x in d.get("details", []):
        emb = d.get("provenance", {}).get("embedder", {}).get("name", "")
        details.append(dict(x, degradation=v1_degradation(x.get("scale", 1)), embedder=x.get("embedder", emb)))
    out["details"] = details
    prov = dict(d.get("provenance", {}))
    prov["upgraded_from_schema"] = 1
    out["provenance"] = prov
    return out


@dataclass(frozen=True)
class MetricRow:
    """One number: a metric of one model under one degradation, scored by one FR network on one
    protocol. HR rows use scale 1 and degradation ``"none"``; ``scale`` is the degradation's."""

    model: str
    scale: int
    degradation: str
    protocol: str
    dataset: str
    embedder: str
    metric: str
    value: float
    std: float | None
    n: int


@dataclass
class RunResult:
    """Everything one run produced: rows, per-(model, degradation, embedder, protocol) details, provenance."""

    rows: list[MetricRow] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "provenance": self.provenance,
            "rows": [asdict(r) for r in self.rows],
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        version = d.get("schema_version")
        if version == 1:
            d = upgrade_v1(d)
            version = d["schema_version"]
        if version != SCHEMA_VERSION:
            raise ValueError(f"results schema version {version!r} is not {SCHEMA_VERSION}")
        names = {f.name for f in fields(MetricRow)}
        rows = [MetricRow(**{k: r[k] for k in names}) for r in d["rows"]]
        return cls(rows=rows, details=d.get("details", []), provenance=d.get("provenance", {}))

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(RESULT_COLUMNS)
        for r in self.rows:
            w.writerow(
                [
                    r.model,
                    r.scale,
                    r.degradation,
                    r.protocol,
                    r.dataset,
                    r.embedder,
                    r.metric,
                    repr(float(r.value)),
                    "" if r.std is None else repr(float(r.std)),
                    r.n,
                ]
            )
        return buf.getvalue()

    def save(self, out_dir: str | Path) -> None:
        """Write ``results.json`` and ``results.csv`` atomically into ``out_dir``."""
        out_dir = Path(out_dir)
        atomic_write_text(out_dir / "results.json", json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        atomic_write_text(out_dir / "results.csv", self.to_csv())

    @classmethod
    def load(cls, out_dir: str | Path) -> RunResult:
        path = Path(out_dir) / "results.json"
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def to_frame(self) -> Any:
        """The tidy rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.rows], columns=RESULT_COLUMNS)

    def table(self) -> str:
        """A compact text table: one line per (protocol, embedder, degradation, model), metrics as columns."""
        df = self.to_frame()
        if df.empty:
            return "(no results)"
        df["shown"] = [
            f"{v:.4f}" + (f" ± {s:.4f}" if s is not None and s == s else "")
            for v, s in zip(df["value"], df["std"], strict=False)
        ]
        wide = df.pivot_table(
            index=["protocol", "embedder", "degradation", "model"],
            columns="metric",
            values="shown",
            aggfunc="first",
            sort=False,
        )
        return wide.fillna("").to_string()
