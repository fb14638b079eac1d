"""A real LFW verification run on a 10-fold subset, every number recomputed independently."""

import csv
import itertools
from collections import defaultdict

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from srfacebench.engine import evaluate

PAIRS_PER_FOLD = 30


@pytest.fixture(scope="module")
def run(data_root, session_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("lfw-run")
    evaluate(
        ["bicubic"],
        ["lfw-verification"],
        [4, 8],
        out,
        data_root=data_root,
        cache_dir=session_cache,
        limit=PAIRS_PER_FOLD,
        progress=False,
    )
    return out


def independent_fold_accuracy(d, s, f):
    """Brute force: every midpoint threshold tried on the training folds, first best kept."""
    accs = []
    for k in sorted(set(f)):
        tr, te = f != k, f == k
        u = sorted(set(d[tr]))
        cands = [u[0] - 1] + [(x + y) / 2 for x, y in itertools.pairwise(u)] + [u[-1] + 1]
        best_t, best_acc = None, -1.0
        for t in cands:
            acc = np.mean((d[tr] <= t) == s[tr])
            if acc > best_acc:
                best_t, best_acc = t, acc
        accs.append(np.mean((d[te] <= best_t) == s[te]))
    return np.mean(accs), np.std(accs)


def independent_eer(d, s):
    far, tar, _ = roc_curve(s, -d, drop_intermediate=False)
    frr = 1 - tar
    for i in range(1, len(far)):
        a, b = far[i - 1] - frr[i - 1], far[i] - frr[i]
        if a < 0 <= b:
            return far[i - 1] + (-a / (b - a)) * (far[i] - far[i - 1])
    raise AssertionError("no crossing")


def test_every_number_recomputes_from_pairs_csv(run):
    pairs = defaultdict(list)
    with (run / "pairs.csv").open() as fh:
        for r in csv.DictReader(fh):
            pairs[(r["model"], int(r["scale"]))].append((float(r["distance"]), r["label"] == "1", int(r["fold"])))
    results = {}
    with (run / "results.csv").open() as fh:
        for r in csv.DictReader(fh):
            results[(r["model"], int(r["scale"]), r["metric"])] = r
    assert set(pairs) == {("hr", 1), ("bicubic", 4), ("bicubic", 8)}
    for key, rows in pairs.items():
        assert len(rows) == 10 * PAIRS_PER_FOLD
        d = np.array([r[0] for r in rows])
        s = np.array([r[1] for r in rows])
        f = np.array([r[2] for r in rows])
        acc, std = independent_fold_accuracy(d, s, f)
        assert float(results[(*key, "accuracy")]["value"]) == pytest.approx(acc, abs=1e-9)
        assert float(results[(*key, "accuracy")]["std"]) == pytest.approx(std, abs=1e-9)
        assert float(results[(*key, "auc")]["value"]) == pytest.approx(roc_auc_score(s, -d), abs=1e-9)
        assert float(results[(*key, "eer")]["value"]) == pytest.approx(independent_eer(d, s), abs=1e-9)
        far, tar, _ = roc_curve(s, -d, drop_intermediate=False)
        assert float(results[(*key, "tar@far=1e-3")]["value"]) == pytest.approx(tar[far <= 1e-3].max(), abs=1e-9)


def test_degradation_costs_identity(run):
    auc = {}
    with (run / "results.csv").open() as fh:
        for r in csv.DictReader(fh):
            if r["metric"] == "auc":
                auc[(r["model"], int(r["scale"]))] = float(r["value"])
    assert auc[("hr", 1)] >= 0.98  # dlib's descriptor on aligned LFW: ~0.99 on the full set
    assert auc[("hr", 1)] >= auc[("bicubic", 4)] > auc[("bicubic", 8)]
