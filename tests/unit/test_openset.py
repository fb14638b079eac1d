"""Identification among distractors and the kNN backends: metrics against plain-loop hand
computations, approximate search recall against a NumPy brute force, synthetic distractors
against their definition, the distractor loader, and a run that records all of it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srfacebench.data.identity import load_identity_folder
from srfacebench.data.loaders import subset_identities
from srfacebench.errors import DataError
from srfacebench.metrics import identification as I
from srfacebench.metrics import knn


def _clusters(n_ids: int, per: int, n_distractors: int, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_ids, d))
    emb = np.repeat(centres, per, axis=0) + rng.normal(size=(n_ids * per, d))
    labels = np.repeat(np.arange(n_ids), per)
    dis = rng.normal(scale=3.0, size=(n_distractors, d))
    return np.concatenate([emb, dis]).astype(np.float32), np.concatenate([labels, -np.ones(n_distractors, int)])


def _by_hand(emb, labels, k, max_rank):
    """Ranks and k-votes of every probe (label >= 0) among all other images, by plain loops."""
    e = emb.astype(np.float64)
    ranks, votes = [], []
    for i in range(len(e)):
        if labels[i] < 0:
            continue
        order = sorted((float(((e[i] - e[j]) ** 2).sum()), j) for j in range(len(e)) if j != i)
        neigh = [labels[j] for _, j in order]
        ranks.append(next((r + 1 for r, lab in enumerate(neigh[:max_rank]) if lab == labels[i]), 0))
        top = neigh[:k]
        counts = {lab: top.count(lab) for lab in top}
        best = max(counts.values())
        votes.append(next(lab for lab in top if counts[lab] == best))
    return np.array(ranks), np.array(votes)


def _fnir_by_hand(emb, labels, target, seed):
    ids = np.unique(labels[labels >= 0])
    enrolled = set(np.random.default_rng(seed).permutation(ids)[: ids.size // 2].tolist())
    gallery, mated, nonmated, seen = [], [], [], set()
    for i, lab in enumerate(labels.tolist()):
        if lab < 0:
            gallery.append(i)
        elif lab not in enrolled:
            nonmated.append(i)
        elif lab in seen:
            mated.append(i)
        else:
            seen.add(lab)
            gallery.append(i)
    e = emb.astype(np.float64)

    def nearest(i):
        return min((float(((e[i] - e[g]) ** 2).sum()), g) for g in gallery)

    non = sorted(nearest(i)[0] for i in nonmated)
    allowed = int(np.floor(target * len(non) + 1e-9))
    misses = 0
    for i in mated:
        d, g = nearest(i)
        hit = labels[g] == labels[i] and (allowed >= len(non) or d < non[allowed])
        misses += not hit
    return misses / len(mated)


def test_distractors_are_searched_among_never_with():
    emb, labels = _clusters(8, 4, 40)
    res = I.identification_metrics(emb, labels, ks=(1, 3), max_rank=10, fpir_targets=(0.25,), seed=3)
    ranks, votes3 = _by_hand(emb, labels, 3, 10)
    assert res.n_probes == 32 and res.n_distractors == 40
    np.testing.assert_array_equal(res.probes, np.arange(32))
    np.testing.assert_array_equal(res.ranks, ranks)
    np.testing.assert_array_equal(res.knn_predictions[3], votes3)
    assert res.knn_accuracy[3] == pytest.approx(np.mean(votes3 == labels[:32]))
    assert res.cmc[0] == pytest.approx(np.mean(ranks == 1))
    assert res.fnir[0.25] == pytest.approx(_fnir_by_hand(emb, labels, 0.25, 3))
    # Distractors can only make identification harder: the same probes without them do no worse.
    alone = I.identification_metrics(emb[:32], labels[:32], ks=(1, 3), max_rank=10, fpir_targets=(0.25,), seed=3)
    assert alone.cmc[0] >= res.cmc[0] and alone.fnir[0.25] <= res.fnir[0.25]
    assert all(s.exact for s in res.searches)


def _brute(g, q, k):
    d = ((q[:, None, :].astype(np.float64) - g[None].astype(np.float64)) ** 2).sum(-1)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, 1), idx


@pytest.mark.parametrize("method", ["faiss-hnsw", "faiss-ivf"])
def test_approximate_search_reports_its_recall(method):
    rng = np.random.default_rng(0)
    g = rng.normal(size=(5000, 16)).astype(np.float32)
    q = g[:300] + rng.normal(scale=0.05, size=(300, 16)).astype(np.float32)
    dist, idx, info = knn.search(g, q, 5, method=method, recall_sample=300)
    assert info.backend == method and not info.exact and info.recall_sample == 300
    bd, bidx = _brute(g, q, 5)
    at1 = np.mean(dist[:, 0] <= bd[:, 0] + 1e-5 * np.maximum(1, bd[:, 0]))
    at5 = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx, bidx, strict=True)])
    assert info.recall[1] == pytest.approx(at1) and info.recall[5] == pytest.approx(at5)
    assert info.recall[1] > 0.9  # a usable index on easy data (the scaling benchmark measures hard data)


def test_a_bad_index_shows_in_its_recall(monkeypatch):
    """The recall is measured, not assumed: an index returning random neighbours scores ~0."""
    rng = np.random.default_rng(1)
    g = rng.normal(size=(2000, 8)).astype(np.float32)

    class Random:
        def search(self, q, k):
            i = rng.integers(0, len(g), size=(len(q), k))
            return ((q[:, None] - g[i]) ** 2).sum(-1).astype(np.float32), i

    monkeypatch.setattr(knn, "_approximate_index", lambda backend, g, seed: (Random(), {}))
    _, _, info = knn.search(g, g[:200], 3, method="faiss-hnsw", recall_sample=200)
    assert info.recall[1] < 0.05 and info.recall[3] < 0.05


def test_choose_backend():
    assert knn.choose_backend(10**6, 4324) == "faiss-flat"  # few queries: exact stays cheap
    assert knn.choose_backend(10**6, 10**6) == "faiss-ivf"
    assert knn.choose_backend(10**6, 10**6, method="exact") == "faiss-flat"
    assert knn.choose_backend(100, 100, method="faiss-ivf") == "faiss-ivf"
    assert knn.choose_backend(100, 100, approximate_above=99 * 100) == "faiss-ivf"
    with pytest.raises(ValueError, match="unknown kNN search 'annoy'"):
        knn.choose_backend(1, 1, method="annoy")


def test_exact_backends_agree():
    rng = np.random.default_rng(2)
    g = rng.normal(size=(400, 12)).astype(np.float32)
    d1, i1, a = knn.search(g, g[:50], 7, method="faiss-flat")
    d2, i2, b = knn.search(g, g[:50], 7, method="torch")
    bd, bi = _brute(g, g[:50], 7)
    np.testing.assert_array_equal(i1, bi)
    np.testing.assert_array_equal(i2, bi)
    np.testing.assert_allclose(d1, bd, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d2, bd, rtol=1e-4, atol=1e-4)
    assert a.recall is None and b.exact


def test_synthetic_distractors_follow_their_definition():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(500, 4)) @ np.array([[2, 0, 0, 0], [1, 1, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0.5]]) + 7
    fake = I.synthetic_distractors(ref, 200_000, seed=5)
    assert fake.shape == (200_000, 4) and fake.dtype == np.float32
    np.testing.assert_allclose(fake.mean(0), ref.mean(0), atol=0.02)
    np.testing.assert_allclose(np.cov(fake, rowvar=False), np.cov(ref, rowvar=False), atol=0.05)
    np.testing.assert_array_equal(I.synthetic_distractors(ref, 10, seed=5), fake[:10])
    unit = I.synthetic_distractors(ref, 10, seed=5, normalise=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1, rtol=1e-6)


def _tree(root: Path, people: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    for name, n in people.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8)).save(root / name / f"{name}_{i:04d}.jpg")


def test_distractor_loader(tmp_path):
    _tree(tmp_path / "imgs", {"A": 3, "B": 3, "C": 1, "D": 1, "E": 2})
    fs = load_identity_folder(tmp_path, images="imgs", min_images=3, distractors="imgs", distractor_max_images=1)
    assert fs.root == tmp_path / "imgs"  # the same folder: the same pool as the set without distractors
    assert fs.paths[-2:] == ["C/C_0000.jpg", "D/D_0000.jpg"] and fs.labels.tolist() == [0] * 3 + [1] * 3 + [-1] * 2
    _tree(tmp_path / "other", {"X": 2, "Y": 1})
    fs = load_identity_folder(tmp_path, images="imgs", min_images=3, distractors="other", distractor_limit=2)
    assert fs.root == tmp_path and fs.paths[0] == "imgs/A/A_0000.jpg"
    assert fs.paths[-2:] == ["other/X/X_0000.jpg", "other/X/X_0001.jpg"] and (fs.labels < 0).sum() == 2
    _tree(tmp_path / "clash", {"A": 1})
    with pytest.raises(DataError, match=r"distractor identities \['A'\] are also searched identities"):
        load_identity_folder(tmp_path, images="imgs", min_images=3, distractors="clash", distractor_max_images=1)
    with pytest.raises(DataError, match="distractor folder not found"):
        load_identity_folder(tmp_path, images="imgs", min_images=3, distractors="nowhere")
    small = subset_identities(load_identity_folder(tmp_path, images="imgs", min_images=2, distractors="other"), 1)
    assert small.labels.tolist() == [0, 0, 0, -1, -1, -1] and small.identities[0] == "A"


PROTOCOL = """
name = "tiny-openset"
version = "0.1"
task = "identification"
main_score = "rank1"
[dataset]
name = "tiny-ids"
loader = "identity-folder"
root = "tiny"
images = "imgs"
min_images = 3
distractors = "imgs"
distractor_max_images = 1
[identification]
ks = [1]
max_rank = 5
fpir = [0.5]
search = "{search}"
synthetic_distractors = 500
[metrics]
rank1 = {{}}
"fnir@fpir=0.5" = {{}}
"""


def test_a_run_among_distractors_records_them(tmp_path):
    from srfacebench.engine import evaluate

    _tree(tmp_path / "data" / "tiny" / "imgs", {"A": 3, "B": 3, "C": 3, "D": 3, "E": 1, "F": 1, "G": 1})
    proto = tmp_path / "p.toml"
    proto.write_text(PROTOCOL.format(search="faiss-hnsw"))
    out = tmp_path / "out"
    res = evaluate(["bicubic"], [str(proto)], [4], out, data_root=tmp_path / "data", cache_dir=tmp_path / "c",
                   progress=False, report=False)  # fmt: skip
    rows = list(csv.DictReader((out / "probes.csv").open()))
    assert len(rows) == 2 * 12 and not any(r["identity"] in "EFG" for r in rows)  # HR + bicubic, probes only
    assert {r.n for r in res.rows} == {12}
    detail = json.loads((out / "results.json").read_text())["details"][0]
    assert detail["distractors"]["images"] == 3 and detail["distractors"]["synthetic"] == 500
    assert {s["backend"] for s in detail["search"]} == {"faiss-hnsw"}
    assert all(0 <= s["recall"]["1"] <= 1 for s in detail["search"])
    notes = " ".join(res.provenance["notes"])
    assert "SYNTHETIC distractor" in notes and "approximate kNN (faiss-hnsw" in notes


def test_torch_search_bounds_its_memory_on_cpu(monkeypatch):
    """A CPU block of distances stays within 256 MiB whatever the gallery size (4,096 queries
    against 300,000 entries would be 10 GB), and the answer does not depend on the block size."""
    import torch

    seen = []
    real_topk = torch.topk

    def spy(d, *a, **kw):
        seen.append(d.numel() * d.element_size())
        return real_topk(d, *a, **kw)

    monkeypatch.setattr(torch, "topk", spy)
    rng = np.random.default_rng(4)
    g = rng.normal(size=(200_000, 2)).astype(np.float32)
    _, idx = knn.knn_torch(g, g[:500], 3)
    assert max(seen) <= 2**28 and len(seen) > 1
    _, ref = knn.knn_torch(g, g[:500], 3, chunk=500)
    np.testing.assert_array_equal(idx, ref)
