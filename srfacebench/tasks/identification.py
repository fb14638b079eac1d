"""Identification (FRVT-style 1:N): leave-one-out kNN accuracy, rank-k / CMC and open-set
FNIR@FPIR over a set of labelled faces (:mod:`srfacebench.metrics.identification`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, ProtocolError
from ..metrics.catalogue import MetricInfo
from ..results import BICUBIC
from . import Curves, ItemView, Task, TaskInput, TaskScore, exclude_with_singletons

if TYPE_CHECKING:
    import pandas as pd

    from ..data.faceset import FaceSet
    from ..protocols import Protocol

CMC_RANKS = (1, 5, 10)  # the rank-k metrics offered (the CMC itself goes to max_rank)


@dataclass(frozen=True)
class IdentificationSpec:
    ks: tuple[int, ...] = (1, 5, 10)
    max_rank: int = 50
    fpir: tuple[float, ...] = (0.1, 0.01)
    seed: int = 0


def _positive_int(value: Any, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProtocolError(f"{source}: {what} must be a positive integer, got {value!r}")
    return value


class Identification(Task):
    name = "identification"
    convention = (
        "leave-one-out kNN (FAISS L2; cosine networks on L2-normalised embeddings), self "
        "excluded by index; majority vote, ties to the label ranked first; rank = first same-identity "
        "neighbour; FNIR@FPIR with a seeded half/half enrolled split, first image of each enrolled identity "
        "in the gallery"
    )
    needs = frozenset({"labels"})
    items_file = "probes.csv"
    options_section = "identification"
    option_keys = frozenset({"ks", "max_rank", "fpir", "seed"})

    def parse_options(self, raw: Mapping[str, Any], source: str) -> IdentificationSpec:
        try:
            spec = IdentificationSpec(
                ks=tuple(_positive_int(k, "[identification] ks", source) for k in raw.get("ks", (1, 5, 10))),
                max_rank=_positive_int(raw.get("max_rank", 50), "[identification] max_rank", source),
                fpir=tuple(float(f) for f in raw.get("fpir", (0.1, 0.01))),
                seed=int(raw.get("seed", 0)),
            )
        except (TypeError, ValueError) as e:
            raise ProtocolError(f"{source}: invalid [identification] section: {e}") from None
        if any(not 0 < f < 1 for f in spec.fpir):
            raise ProtocolError(f"{source}: [identification] fpir values must be in (0, 1), got {list(spec.fpir)}")
        return spec

    def metrics(self, options: IdentificationSpec | None) -> dict[str, MetricInfo]:
        spec = options or IdentificationSpec()
        out = {
            f"knn{k}_accuracy": MetricInfo(
                f"knn{k}_accuracy", True, "identities", f"leave-one-out {k}-NN vote accuracy"
            )
            for k in spec.ks
        }
        out |= {f"rank{k}": MetricInfo(f"rank{k}", True, "identities", f"CMC at rank {k}") for k in CMC_RANKS}
        out |= {
            f"fnir@fpir={t:g}": MetricInfo(f"fnir@fpir={t:g}", False, "identities", f"open-set FNIR at FPIR {t:g}")
            for t in spec.fpir
        }
        return out

    def columns(self, options: IdentificationSpec | None) -> list[str]:
        spec = options or IdentificationSpec()
        return ["probe", "image", "identity", "rank", *(f"knn{k}" for k in spec.ks)]

    def check(self, protocol: Protocol, faceset: FaceSet, where: str) -> None:
        spec: IdentificationSpec = protocol.options
        n_ids, n = len(set(int(x) for x in faceset.labels)), len(faceset.paths)
        if spec.fpir and n_ids < 4:
            raise DataError(
                f"{where}: {n_ids} identities in {faceset.root}; open-set FNIR@FPIR enrols half of "
                "the identities and searches with the other half, which needs at least 4 (use --limit 4 or more)"
            )
        if max(spec.ks) >= n:
            raise DataError(
                f"{where}: {n} images in {faceset.root}, too few for the {max(spec.ks)}-nearest-"
                "neighbour vote ([identification] ks); use more identities"
            )

    def exclude(self, protocol: Protocol, faceset: FaceSet, drop: set[str]) -> tuple[FaceSet, np.ndarray, list[str]]:
        return exclude_with_singletons(self, protocol, faceset, drop)

    def score(self, x: TaskInput) -> TaskScore:
        from ..metrics.identification import identification_metrics

        spec: IdentificationSpec = x.protocol.options
        fs = x.faceset
        res = identification_metrics(x.emb, fs.labels, spec.ks, spec.max_rank, spec.fpir, spec.seed, x.device)
        names = fs.identities
        preds = [res.knn_predictions[k] for k in spec.ks]
        items = [
            [i, fs.paths[i], names[fs.labels[i]], int(res.ranks[i]), *(names[p[i]] for p in preds)]
            for i in range(len(fs))
        ]
        detail = {"cmc": list(res.cmc), "knn_accuracy": {str(k): a for k, a in res.knn_accuracy.items()}}
        return TaskScore(res.metrics(), res.n_probes, detail, items)

    def replicates(
        self, items: pd.DataFrame, options: dict[str, Any] | None, n_boot: int, seed: int, tag: str
    ) -> dict[str, np.ndarray]:
        from ..metrics.stats import bootstrap_clusters

        g = items.sort_values("probe")
        ranks = g["rank"].to_numpy(int)
        values = {f"rank{k}": (ranks >= 1) & (ranks <= k) for k in CMC_RANKS}
        ks = (options or {}).get("ks") or [int(c[3:]) for c in g.columns if c.startswith("knn") and c[3:].isdigit()]
        values |= {f"knn{k}_accuracy": (g[f"knn{k}"] == g.identity).to_numpy() for k in ks if f"knn{k}" in g}
        return dict(bootstrap_clusters(values, g.identity.to_numpy(), n_boot, seed, tag).replicates)

    def paired_tests(
        self, a: pd.DataFrame, b: pd.DataFrame, reps_a: dict[str, np.ndarray], reps_b: dict[str, np.ndarray]
    ) -> list[tuple[str, float, str]]:
        from ..metrics.stats import mcnemar_p

        ra = a.sort_values("probe")["rank"].to_numpy(int) == 1
        rb = b.sort_values("probe")["rank"].to_numpy(int) == 1
        return [("rank1", mcnemar_p(ra, rb), "McNemar exact")]

    def curves(self, view: ItemView, degradation: str) -> list[Curves]:
        out = []
        for include_lr in (True, False):
            series = [
                ("HR" if deg == "none" else f"{model} {deg}", np.arange(1, len(d["cmc"]) + 1), np.asarray(d["cmc"]))
                for (model, deg), d in view.details.items()
                if "cmc" in d and deg in ("none", degradation) and (include_lr or model != BICUBIC)
            ]
            if series:
                title = f"{view.protocol} ({view.embedder}): CMC, {degradation}" + (
                    "" if include_lr else " (without bicubic)"
                )
                out.append(Curves(title, "rank", "identification rate", series))
        return out


TASK = Identification()
