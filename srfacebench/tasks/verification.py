"""Verification (LFW View 2 style): k-fold accuracy, ROC AUC, EER, TAR@FAR over image pairs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ..metrics.catalogue import MetricInfo
from ..metrics.verification import pair_distances, roc_curve, verification_metrics
from . import Curves, ItemView, Task, TaskInput, TaskScore

if TYPE_CHECKING:
    import pandas as pd

    from ..data.faceset import FaceSet
    from ..protocols import Protocol

_METRICS = {
    "accuracy": MetricInfo("accuracy", True, "pairs", "10-fold accuracy, threshold chosen on the other folds"),
    "auc": MetricInfo("auc", True, "pairs", "ROC AUC over all pairs"),
    "eer": MetricInfo("eer", False, "pairs", "equal error rate (interpolated on the ROC)"),
    "tar@far=1e-3": MetricInfo("tar@far=1e-3", True, "pairs", "true accept rate at FAR 1e-3"),
}


class Verification(Task):
    name = "verification"
    convention = (
        "threshold = best-accuracy midpoint on the other folds (ties: smallest); "
        "std over folds ddof=0; EER linearly interpolated on the ROC; TAR@FAR without interpolation; "
        "cosine FR networks: distance between L2-normalised embeddings"
    )
    needs = frozenset({"pairs"})
    items_file = "pairs.csv"

    def metrics(self, options: Any) -> dict[str, MetricInfo]:
        return dict(_METRICS)

    def columns(self, options: Any) -> list[str]:
        return ["pair", "fold", "label", "distance", "image_a", "image_b"]

    def check(self, protocol: Protocol, faceset: FaceSet, where: str) -> None:
        pairs = faceset.pairs
        if pairs is None:
            raise DataError(f"{where}: the data set has no verification pairs")
        n_folds = len(set(pairs.fold.tolist()))
        if n_folds < 2:
            raise DataError(
                f"{where}: {n_folds} fold; k-fold verification chooses each fold's threshold on the other "
                "folds and needs at least 2"
            )
        if not len(pairs.same) or pairs.same.all() or not pairs.same.any():
            raise DataError(f"{where}: only one class of pairs (matched or mismatched); ROC and accuracy need both")

    def exclude(self, protocol: Protocol, faceset: FaceSet, drop: set[str]) -> tuple[FaceSet, np.ndarray, list[str]]:
        from ..data.faceset import without_images

        assert faceset.pairs is not None
        folds = {int(f) for f in np.unique(faceset.pairs.fold)}
        fs, kept = without_images(faceset, drop)
        assert fs.pairs is not None
        empty = sorted(folds - {int(f) for f in np.unique(fs.pairs.fold)})
        if empty or not len(fs.pairs.same) or fs.pairs.same.all() or not fs.pairs.same.any():
            raise DataError(
                f"protocol {protocol.name!r}: excluding the {len(faceset) - len(fs)} images without a detected "
                f"face ([alignment] exclude_fallback) leaves "
                + (f"fold(s) {', '.join(str(f + 1) for f in empty)} without pairs" if empty else "one class of pairs")
                + "; k-fold verification cannot be scored — keep them (exclude_fallback = false) or fix the images"
            )
        return fs, kept, []

    def score(self, x: TaskInput) -> TaskScore:
        pairs = x.faceset.pairs
        assert pairs is not None
        dist = pair_distances(x.emb, pairs.a, pairs.b)
        res = verification_metrics(dist, pairs.same, pairs.fold)
        paths = x.faceset.paths
        items = [
            [i, int(pairs.fold[i]), int(pairs.same[i]), repr(float(dist[i])), paths[pairs.a[i]], paths[pairs.b[i]]]
            for i in range(len(pairs))
        ]
        detail = {"fold_accuracies": list(res.fold_accuracies), "fold_thresholds": list(res.fold_thresholds)}
        return TaskScore(res.metrics(), res.n_pairs, detail, items)

    def replicates(
        self, items: pd.DataFrame, options: dict[str, Any] | None, n_boot: int, seed: int, tag: str
    ) -> dict[str, np.ndarray]:
        from ..metrics.stats import bootstrap_verification

        g = items.sort_values("pair")
        res = bootstrap_verification(
            g.distance.to_numpy(float), g.label.to_numpy(int) == 1, g.fold.to_numpy(int), n_boot, seed, tag
        )
        return dict(res.replicates)

    def paired_tests(
        self, a: pd.DataFrame, b: pd.DataFrame, reps_a: dict[str, np.ndarray], reps_b: dict[str, np.ndarray]
    ) -> list[tuple[str, float, str]]:
        from ..metrics.stats import paired_bootstrap_p

        return [
            (m, paired_bootstrap_p(reps_a[m], reps_b[m]), "paired bootstrap")
            for m in ("accuracy", "auc")
            if m in reps_a and m in reps_b
        ]

    def curves(self, view: ItemView, degradation: str) -> list[Curves]:
        series = []
        for (model, deg), g in view.items.items():
            if deg not in ("none", degradation):
                continue
            far, tar, _ = roc_curve(g.distance.to_numpy(float), g.label.to_numpy(int) == 1)
            series.append((_label(model, deg), np.maximum(far, 1e-4), tar))
        if not series:
            return []
        title = f"{view.protocol} ({view.embedder}): ROC, {degradation}"
        return [Curves(title, "false accept rate", "true accept rate", series, xlog=True, legend_loc="lower right")]


def _label(model: str, degradation: str) -> str:
    return "HR" if degradation == "none" else f"{model} {degradation}"


TASK = Verification()
