"""Centroid FR loss: how far each face lands from its person's *other* HR faces.

The paper's FR loss compares φ(SR) with φ(HR) of the same photo; what identification needs is
that the SR face stays near its *identity*. For image i of a person with n ≥ 2 images,

    centroid_fr_loss_i = ||φ(x_i) − c_i||²,   c_i = mean of φ(HR_j) over the person's other images j ≠ i,

where x_i is the variant's face (HR itself gives the floor: how far a person's photos are from
each other). Leave-one-out, so an image never pulls its own centroid. For cosine networks the
embeddings are L2-normalised and c_i re-normalised (the distance is then 2 − 2 cos). Images of
people with one image have no centroid: they are not scored, and their count is recorded in
the detail (``without_mates``). Bootstrapped over identities; paired test: Wilcoxon signed-rank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ..metrics.catalogue import MetricInfo
from . import Task, TaskInput, TaskScore, exclude_with_singletons, l2_normalise, require_labels

if TYPE_CHECKING:
    import pandas as pd

    from ..data.faceset import FaceSet
    from ..protocols import Protocol

METRIC = "centroid_fr_loss"


def leave_one_out_centroids(hr_emb: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the mean HR embedding of the other images of its identity, and their count
    (rows with count 0 are NaN)."""
    hr = hr_emb.astype(np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    uniq, inv = np.unique(lab, return_inverse=True)
    sums = np.zeros((len(uniq), hr.shape[1]))
    np.add.at(sums, inv, hr)
    mates = np.bincount(inv, minlength=len(uniq))[inv] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        cent = (sums[inv] - hr) / mates[:, None]
    cent[mates == 0] = np.nan
    return cent, mates


class Centroid(Task):
    name = "centroid"
    convention = (
        "squared Euclidean distance from each face's embedding to the mean HR embedding of the person's other "
        "images (leave-one-out; cosine networks: both L2-normalised); images of people with one image not "
        "scored (counted in the detail); mean and std (ddof=0) over scored images"
    )
    needs = frozenset({"labels"})
    items_file = "centroids.csv"
    bootstrap_tag = "/centroid"

    def metrics(self, options: Any) -> dict[str, MetricInfo]:
        return {
            METRIC: MetricInfo(
                METRIC, False, "identities", "||φ(x) − mean φ(HR) of the person's other images||², mean over images"
            )
        }

    def columns(self, options: Any) -> list[str]:
        return ["image", "identity", "mates", METRIC]

    def check(self, protocol: Protocol, faceset: FaceSet, where: str) -> None:
        require_labels(protocol, faceset, where, min_ids=1)
        if (np.asarray(faceset.labels) < 0).any():
            raise DataError(
                f"{where}: {faceset.root} has distractor images; task 'centroid' compares each image with its "
                "own identity's centroid and takes none (drop the [dataset] distractors option)"
            )

    def exclude(self, protocol: Protocol, faceset: FaceSet, drop: set[str]) -> tuple[FaceSet, np.ndarray, list[str]]:
        return exclude_with_singletons(self, protocol, faceset, drop)

    def score(self, x: TaskInput) -> TaskScore:
        fs = x.faceset
        cent, mates = leave_one_out_centroids(x.hr_emb, fs.labels)
        if x.distance == "cosine":  # embeddings arrive normalised; so is the centroid
            cent = l2_normalise(cent)
        ok = mates > 0
        d = np.full(len(fs), np.nan)
        d[ok] = ((x.emb[ok].astype(np.float64) - cent[ok]) ** 2).sum(axis=1)
        scored = d[ok]
        items = [
            [fs.paths[i], fs.identities[fs.labels[i]], int(mates[i]), repr(float(d[i]))] for i in np.flatnonzero(ok)
        ]
        detail = {"centroid": {"scored": int(ok.sum()), "without_mates": int((~ok).sum())}}
        return TaskScore({METRIC: (float(np.mean(scored)), float(np.std(scored)))}, int(ok.sum()), detail, items)

    def replicates(
        self, items: pd.DataFrame, options: dict[str, Any] | None, n_boot: int, seed: int, tag: str
    ) -> dict[str, np.ndarray]:
        from ..metrics.stats import bootstrap_clusters

        g = items.sort_values("image")
        values = {METRIC: g[METRIC].to_numpy(float)}
        return dict(bootstrap_clusters(values, g.identity.to_numpy(), n_boot, seed, tag).replicates)

    def paired_tests(
        self, a: pd.DataFrame, b: pd.DataFrame, reps_a: dict[str, np.ndarray], reps_b: dict[str, np.ndarray]
    ) -> list[tuple[str, float, str]]:
        from ..metrics.stats import wilcoxon_p

        xa = a.sort_values("image")[METRIC].to_numpy(float)
        xb = b.sort_values("image")[METRIC].to_numpy(float)
        return [(METRIC, wilcoxon_p(xa, xb), "Wilcoxon signed-rank")]


TASK = Centroid()
