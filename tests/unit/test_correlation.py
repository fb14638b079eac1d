"""Kendall τ-b against scipy, and the report's PSNR-vs-identity correlation on hand-made results."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from srfacebench.report.correlation import kendall_tau_b, rank_correlations


@pytest.mark.parametrize("seed", range(6))
def test_tau_b_matches_scipy_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    n = rng.integers(3, 12)
    x = rng.integers(0, 4, n).astype(float) if seed % 2 else rng.normal(size=n)
    y = rng.integers(0, 4, n).astype(float) if seed % 3 == 0 else rng.normal(size=n)
    ref = kendalltau(x, y, variant="b").statistic
    assert float(kendall_tau_b(x, y)) == pytest.approx(ref, abs=1e-12, nan_ok=True)


def test_tau_b_is_batched_and_undefined_for_a_constant_side():
    x = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    y = np.array([1.0, 2.0, 3.0])
    tau = kendall_tau_b(x, np.broadcast_to(y, x.shape))
    assert tau[0] == 1.0 and tau[1] == -1.0 and np.isnan(tau[2])


def _results(rows):
    return pd.DataFrame(rows, columns=["protocol", "model", "degradation", "embedder", "metric", "value"])


def test_identity_metrics_are_oriented_and_hr_is_left_out():
    # PSNR ranks a > b > c; FR loss (lower is better) ranks a < b < c as well: perfect agreement once
    # oriented; accuracy ranks them in reverse: tau = -1. HR, with the best everything, is not a model.
    vals = {"a": (40, 0.01, 0.90), "b": (38, 0.02, 0.95), "c": (36, 0.03, 0.99), "hr": (99, 0.0, 1.0)}
    names = ("psnr_y", "fr_loss", "accuracy")
    rows = [
        ("p", m, "bicubic:4", "dlib", metric, v) for m, t in vals.items() for metric, v in zip(names, t, strict=True)
    ]
    metrics = {"psnr_y": {"higher_is_better": True}, "fr_loss": {"higher_is_better": False},
               "accuracy": {"higher_is_better": True}}  # fmt: skip
    out = {r["identity"]: r for r in rank_correlations(_results(rows), "p", metrics, {})}
    assert out["fr_loss"]["tau"] == 1.0 and out["accuracy"]["tau"] == -1.0
    assert out["fr_loss"]["n_models"] == 3 and "hr" not in out["fr_loss"]["models"]
    assert np.isnan(out["fr_loss"]["ci_low"])  # no replicates given, no interval invented


def test_bootstrap_interval_comes_from_the_replicates():
    rows = [
        ("p", m, "d", "e", metric, v) for m, v in (("a", 3), ("b", 2), ("c", 1)) for metric in ("psnr_y", "fr_loss")
    ]
    metrics = {"psnr_y": {"higher_is_better": True}, "fr_loss": {"higher_is_better": True}}
    # replicates: half agree perfectly (tau 1), half reverse (tau -1)
    up, down = np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0])
    reps = {}
    for i, m in enumerate("abc"):
        reps[(m, "d", "e")] = {
            "psnr_y": np.full(100, up[i]),
            "fr_loss": np.r_[np.full(50, up[i]), np.full(50, down[i])],
        }
    (row,) = rank_correlations(_results(rows), "p", metrics, reps)
    assert row["tau"] == 1.0 and row["ci_low"] == -1.0 and row["ci_high"] == 1.0


def test_fewer_than_three_models_give_no_row():
    rows = [("p", m, "d", "e", metric, 1.0) for m in ("a", "b") for metric in ("psnr_y", "fr_loss")]
    assert rank_correlations(_results(rows), "p", {"psnr_y": {"higher_is_better": True},
                                                    "fr_loss": {"higher_is_better": False}}, {}) == []  # fmt: skip
