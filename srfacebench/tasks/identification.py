"""Identification (FRVT-style 1:N): leave-one-out kNN accuracy, rank-k / CMC and open-set
FNIR@FPIR over a set of labelled faces (:mod:`srfacebench.metrics.identification`), optionally
searched among distractors: images of the set labelled < 0 (a distractor folder, see the
``identity-folder`` loader) and/or ``synthetic_distractors`` embeddings drawn at scoring time.
The kNN backend follows ``search`` (:mod:`srfacebench.metrics.knn`); an approximate search's
recall against exact is recorded in the results (detail ``search``, and a note)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, ProtocolError
from ..metrics.catalogue import MetricInfo
from ..metrics.knn import APPROXIMATE_ABOVE, METHODS
from ..results import BICUBIC
from . import Curves, ItemView, Task, TaskInput, TaskScore, exclude_with_singletons

if TYPE_CHECKING:
    import pandas as pd

    from ..data.faceset import FaceSet
    from ..protocols import Protocol

CMC_RANKS = (1, 5, 10)  # the rank-k metrics offered (the CMC itself goes to max_rank)
DISTRACTOR = "(distractor)"  # a kNN vote won by distractors, in probes.csv
SYNTHETIC_MODEL = "not faces: Gaussian draws with the mean and covariance of the set's HR embeddings"


@dataclass(frozen=True)
class IdentificationSpec:
    ks: tuple[int, ...] = (1, 5, 10)
    max_rank: int = 50
    fpir: tuple[float, ...] = (0.1, 0.01)
    seed: int = 0
    search: str = "auto"
    approximate_above: int = APPROXIMATE_ABOVE
    recall_sample: int = 1000
    synthetic_distractors: int = 0


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
    option_keys = frozenset(
        {"ks", "max_rank", "fpir", "seed", "search", "approximate_above", "recall_sample", "synthetic_distractors"}
    )

    def parse_options(self, raw: Mapping[str, Any], source: str) -> IdentificationSpec:
        try:
            spec = IdentificationSpec(
                ks=tuple(_positive_int(k, "[identification] ks", source) for k in raw.get("ks", (1, 5, 10))),
                max_rank=_positive_int(raw.get("max_rank", 50), "[identification] max_rank", source),
                fpir=tuple(float(f) for f in raw.get("fpir", (0.1, 0.01))),
                seed=int(raw.get("seed", 0)),
                search=str(raw.get("search", "auto")),
                approximate_above=_positive_int(
                    raw.get("approximate_above", APPROXIMATE_ABOVE), "[identification] approximate_above", source
                ),
                recall_sample=_positive_int(raw.get("recall_sample", 1000), "[identification] recall_sample", source),
                synthetic_distractors=int(raw.get("synthetic_distractors", 0)),
            )
        except (TypeError, ValueError) as e:
            raise ProtocolError(f"{source}: invalid [identification] section: {e}") from None
        if spec.search not in METHODS:
            raise ProtocolError(
                f"{source}: [identification] search = {spec.search!r}; choose one of {', '.join(METHODS)}"
            )
        if spec.synthetic_distractors < 0:
            raise ProtocolError(f"{source}: [identification] synthetic_distractors must be ≥ 0")
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
        n_ids, n = len(set(int(x) for x in faceset.labels if x >= 0)), len(faceset.paths)
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
        from ..metrics.identification import identification_metrics, synthetic_distractors

        spec: IdentificationSpec = x.protocol.options
        fs = x.faceset
        emb, labels = x.emb, np.asarray(fs.labels)
        if spec.synthetic_distractors:  # the same draws for every variant: fitted to the HR embeddings
            fake = synthetic_distractors(x.hr_emb, spec.synthetic_distractors, spec.seed, x.distance == "cosine")
            emb = np.concatenate([emb, fake])
            labels = np.concatenate([labels, np.full(len(fake), -1, labels.dtype)])
        res = identification_metrics(
            emb, labels, spec.ks, spec.max_rank, spec.fpir, spec.seed, x.device, method=spec.search,
            approximate_above=spec.approximate_above, recall_sample=spec.recall_sample,
        )  # fmt: skip
        names = fs.identities

        def name(label: int) -> str:
            return names[label] if label >= 0 else DISTRACTOR

        preds = [res.knn_predictions[k] for k in spec.ks]
        items = [
            [int(i), fs.paths[i], names[fs.labels[i]], int(res.ranks[j]), *(name(p[j]) for p in preds)]
            for j, i in enumerate(res.probes)
        ]
        detail = {
            "cmc": list(res.cmc),
            "knn_accuracy": {str(k): a for k, a in res.knn_accuracy.items()},
            "distractors": {
                "images": int(np.sum(np.asarray(fs.labels) < 0)),
                "synthetic": spec.synthetic_distractors,
                **({"synthetic_model": SYNTHETIC_MODEL} if spec.synthetic_distractors else {}),
            },
            "search": [info.to_dict() for info in res.searches],
        }
        return TaskScore(res.metrics(), res.n_probes, detail, items)

    def notes(self, score: TaskScore, where: str) -> list[str]:
        """What a reader of the numbers must know: synthetic distractors, approximate searches."""
        out = []
        synthetic = score.detail.get("distractors", {}).get("synthetic", 0)
        if synthetic:
            out.append(f"{where}: searched among {synthetic:,} SYNTHETIC distractor embeddings ({SYNTHETIC_MODEL})")
        for info in score.detail.get("search", []):
            if not info["exact"]:
                recall = ", ".join(f"recall@{k} {v:.4f}" for k, v in info["recall"].items())
                out.append(
                    f"{where}: approximate kNN ({info['backend']}, {info['params']}) over {info['n_gallery']:,} "
                    f"gallery entries; against exact search on {info['recall_sample']} sampled queries: {recall}"
                )
        return out

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
