"""Verification metrics against scikit-learn and against small cases worked out by hand."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from srfacebench.metrics import verification as V


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    same = rng.random(600) < 0.5
    dist = np.round(rng.random(600) + 0.4 * ~same, 2)  # rounding makes ties
    return dist, same


def test_roc_curve_and_auc_match_sklearn(scored):
    dist, same = scored
    far, tar, thr = V.roc_curve(dist, same)
    sk_far, sk_tar, sk_thr = sk_roc_curve(same, -dist, drop_intermediate=False)
    np.testing.assert_allclose(far, sk_far, atol=1e-15)
    np.testing.assert_allclose(tar, sk_tar, atol=1e-15)
    np.testing.assert_allclose(thr[1:], -sk_thr[1:])
    assert V.roc_auc(dist, same) == pytest.approx(roc_auc_score(same, -dist), abs=1e-12)


def test_pair_distances():
    emb = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    np.testing.assert_allclose(V.pair_distances(emb, np.array([0, 2]), np.array([1, 1])), [5.0, np.sqrt(13)])


def test_best_threshold_by_hand():
    # same: 0.1, 0.2, 0.5; different: 0.4, 0.6, 0.7. Threshold 0.55 (midpoint 0.5|0.6) gets 5/6;
    # 0.3 (midpoint 0.2|0.4) also gets 5/6; the smaller one wins the tie.
    d = np.array([0.1, 0.2, 0.5, 0.4, 0.6, 0.7])
    s = np.array([1, 1, 1, 0, 0, 0], bool)
    t, acc = V.best_threshold(d, s)
    assert t == pytest.approx(0.3)
    assert acc == pytest.approx(5 / 6)


def test_kfold_accuracy_by_hand():
    # Two folds. Fold 0 trains on fold 1 (same 0.2, diff 0.8 -> threshold 0.5) and scores
    # fold 0's pairs: same 0.3 (ok), diff 0.6 (ok), same 0.7 (wrong) -> 2/3.
    # Fold 1 trains on fold 0: d = 0.3 s, 0.6 d, 0.7 s; candidates 0.2, 0.45, 0.65, 0.8 give
    # accuracies 1/3, 2/3, 1/3, 2/3 -> 0.45 (first best); fold 1: 0.2 s ok, 0.8 d ok -> 1.
    d = np.array([0.3, 0.6, 0.7, 0.2, 0.8])
    s = np.array([1, 0, 1, 1, 0], bool)
    f = np.array([0, 0, 0, 1, 1])
    accs, thr = V.kfold_accuracy(d, s, f)
    np.testing.assert_allclose(accs, [2 / 3, 1.0])
    np.testing.assert_allclose(thr, [0.5, 0.45])
    res = V.verification_metrics(d, s, f)
    assert res.accuracy == pytest.approx((2 / 3 + 1) / 2)
    assert res.accuracy_std == pytest.approx(np.std([2 / 3, 1.0]))


def test_eer_by_hand():
    # same: 0.1, 0.3; different: 0.2, 0.4. ROC points (FAR, TAR): (0,0) (0,.5) (.5,.5) (.5,1) (1,1).
    # FAR - FRR along the curve: -1, -.5, 0, ... -> EER = 0.5 exactly at the third point.
    d = np.array([0.1, 0.3, 0.2, 0.4])
    s = np.array([1, 1, 0, 0], bool)
    assert V.eer(d, s) == pytest.approx(0.5)
    # Perfect separation: EER 0, TAR@FAR 1, AUC 1.
    d2 = np.array([0.1, 0.2, 0.8, 0.9])
    assert V.eer(d2, s) == 0.0
    assert V.tar_at_far(d2, s, 1e-3) == 1.0
    assert V.roc_auc(d2, s) == 1.0


def test_eer_interpolates():
    # same: 0.1, 0.4, 0.5; different: 0.2, 0.3, 0.6. Points: (0,0) (0,1/3) (1/3,1/3) (2/3,1/3)
    # (2/3,2/3) (2/3,1) (1,1). FAR-FRR: -1, -2/3, -1/3, 0 at (2/3, 1/3) -> EER = 2/3.
    d = np.array([0.1, 0.4, 0.5, 0.2, 0.3, 0.6])
    s = np.array([1, 1, 1, 0, 0, 0], bool)
    assert V.eer(d, s) == pytest.approx(2 / 3)
    # A sign change inside a segment: same 0.1, 0.5; different 0.2, 0.3, 0.4. Points: (0,0)
    # (0,.5) (1/3,.5) (2/3,.5) (1,.5) (1,1); FAR-FRR: -1, -.5, -1/6, 1/6, ... The crossing lies
    # halfway between (1/3,.5) and (2/3,.5) -> EER = 0.5.
    d = np.array([0.1, 0.5, 0.2, 0.3, 0.4])
    s = np.array([1, 1, 0, 0, 0], bool)
    assert V.eer(d, s) == pytest.approx(0.5)


def test_tar_at_far_by_hand():
    d = np.array([0.1, 0.2, 0.3, 0.15, 0.5, 0.6])
    s = np.array([1, 1, 1, 0, 0, 0], bool)
    # one negative (0.15) below 0.2: at FAR 0, TAR = 1/3; at FAR 1/3 TAR = 1.
    assert V.tar_at_far(d, s, 0.0) == pytest.approx(1 / 3)
    assert V.tar_at_far(d, s, 1 / 3) == pytest.approx(1.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="only one class"):
        V.roc_curve(np.array([0.1, 0.2]), np.array([True, True]))
    with pytest.raises(ValueError, match="differ in length"):
        V.roc_auc(np.array([0.1]), np.array([True, False]))
    with pytest.raises(ValueError, match="NaN"):
        V.eer(np.array([np.nan, 0.2]), np.array([True, False]))
