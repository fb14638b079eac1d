"""Identification against NumPy brute force and cases worked by hand."""

import numpy as np
import pytest

from srfacebench.metrics import identification as I


def brute_force_loo(e, k):
    d = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, 1), idx


def test_faiss_loo_matches_brute_force():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(300, 16)).astype(np.float32)
    d, idx = I.knn_leave_one_out(e, 10)
    bd, bidx = brute_force_loo(e.astype(np.float64), 10)
    np.testing.assert_array_equal(idx, bidx)
    np.testing.assert_allclose(d, bd, rtol=1e-4, atol=1e-4)
    assert not (idx == np.arange(300)[:, None]).any()


def test_duplicate_image_is_kept_and_self_removed_by_index():
    # Images 0 and 1 are identical: each must have the other at distance 0, never itself.
    e = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [6.0, 6.0]], np.float32)
    d, idx = I.knn_leave_one_out(e, 2)
    assert idx[0, 0] == 1 and idx[1, 0] == 0
    assert d[0, 0] == 0 and d[1, 0] == 0


def test_ranks_and_cmc_by_hand():
    labels = np.array([0, 0, 1, 1])
    # neighbour labels per probe (3 neighbours each)
    nl = np.array([[1, 0, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]])
    ranks = I.probe_ranks(nl, labels)
    assert ranks.tolist() == [2, 1, 3, 0]
    np.testing.assert_allclose(I.cmc_curve(ranks, 3), [1 / 4, 2 / 4, 3 / 4])


def test_knn_vote_ties_go_to_the_nearest_label():
    nl = np.array([[3, 2, 2, 3, 5], [4, 1, 1, 4, 4]])
    assert I.knn_vote(nl, 1).tolist() == [3, 4]
    assert I.knn_vote(nl, 4).tolist() == [3, 4]  # 3 vs 2 tied 2:2, 3 ranks first; 4 vs 1 tied, 4 first
    assert I.knn_vote(nl, 5).tolist() == [3, 4]  # 3:2 and 4:3 majorities
    assert I.knn_vote(nl, 3).tolist() == [2, 1]  # plain majorities


def test_knn_accuracy_by_hand():
    nl = np.array([[3, 2, 2], [4, 1, 1], [0, 0, 7]])
    labels = np.array([2, 4, 0])
    # k=1: 3,4,0 -> correct for probes 2,3 -> 2/3; k=3: 2,1,0 -> probes 1,3 -> 2/3
    assert I.knn_accuracy(nl, labels, 1) == pytest.approx(2 / 3)
    assert I.knn_accuracy(nl, labels, 3) == pytest.approx(2 / 3)


def test_identification_metrics_on_clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(6, 8)) * 10
    labels = np.repeat(np.arange(6), 12)
    e = centres[labels] + rng.normal(size=(72, 8)) * 0.1
    res = I.identification_metrics(e, labels, max_rank=20)
    assert res.knn_accuracy == {1: 1.0, 5: 1.0, 10: 1.0}
    assert res.cmc[0] == 1.0 and len(res.cmc) == 20
    assert res.fnir[0.1] == 0.0
    assert set(res.metrics()) >= {"knn1_accuracy", "rank1", "rank5", "rank10", "fnir@fpir=0.1"}


def test_fnir_at_fpir_by_hand(monkeypatch):
    # 1-D embeddings. Four identities 0..3; the seeded split enrols two of them.
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    e = np.array([[0.0], [0.1], [10.0], [10.5], [3.0], [3.2], [20.0], [20.4]], np.float32)
    rng = np.random.default_rng(0)
    enrolled = set(rng.permutation(np.unique(labels))[:2].tolist())
    res = I.fnir_at_fpir(e, labels, (0.5, 0.0), seed=0)
    gallery = {lbl: e[np.nonzero(labels == lbl)[0][0], 0] for lbl in enrolled}
    mated = [
        (e[i, 0], labels[i])
        for i in range(8)
        if labels[i] in enrolled and i not in (np.nonzero(labels == labels[i])[0][0],)
    ]
    nonmated = sorted(
        min((x - g) ** 2 for g in gallery.values())
        for x, lbl in zip(e[:, 0], labels, strict=True)
        if lbl not in enrolled
    )
    for target, value in res.items():
        allowed = int(np.floor(target * len(nonmated)))
        t = np.nextafter(np.float64(nonmated[allowed]), -np.inf) if allowed < len(nonmated) else np.inf
        misses = 0
        for x, lbl in mated:
            best = min(gallery, key=lambda g: (x - gallery[g]) ** 2)
            if best != lbl or (x - gallery[best]) ** 2 > t:
                misses += 1
        assert value == pytest.approx(misses / len(mated))


def test_errors():
    with pytest.raises(ValueError, match=r"k must be in \[1, N-1\]"):
        I.knn_leave_one_out(np.zeros((3, 2)), 3)
    with pytest.raises(ValueError, match="at least 4 identities"):
        I.fnir_at_fpir(np.zeros((4, 2)), np.array([0, 0, 1, 1]))
