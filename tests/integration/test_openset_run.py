"""Identification among distractors on real faces: the shipped lfw-openset protocol (LFW's
ten-image people among its one-image people) on a --limit subset, its HR rank-1 recomputed from
embeddings made outside the engine and searched with scikit-learn, and distractors never doing
better than no distractors."""

import csv

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from srfacebench.data.chips import ensure_aligned
from srfacebench.data.images import read_rgb
from srfacebench.engine import evaluate
from srfacebench.plan import load_dataset
from srfacebench.protocols import load_protocol
from srfacebench.registry import load_embedder

LIMIT = 4  # 4 identities (their ~100 images) and the first 40 one-image people


@pytest.fixture(scope="module")
def openset_run(data_root, session_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("openset") / "out"
    res = evaluate(["bicubic"], ["lfw-identification", "lfw-openset"], [8], out, data_root=data_root,
                   cache_dir=session_cache, limit=LIMIT, progress=False, report=False)  # fmt: skip
    return out, res


def _value(res, protocol, model, metric):
    (row,) = [r for r in res.rows if (r.protocol, r.model, r.metric) == (protocol, model, metric)]
    return row


def test_distractors_are_in_the_gallery_not_the_probes(openset_run, data_root):
    out, res = openset_run
    fs = load_dataset(load_protocol("lfw-openset"), data_root, LIMIT)
    labels = np.asarray(fs.labels)
    assert (labels < 0).sum() == 10 * LIMIT and len(set(labels[labels >= 0])) == LIMIT
    probes = [r for r in csv.DictReader((out / "probes.csv").open()) if r["protocol"] == "lfw-openset"]
    distractors = {p for p, lab in zip(fs.paths, labels, strict=True) if lab < 0}
    assert probes and not any(r["image"] in distractors for r in probes)
    assert _value(res, "lfw-openset", "hr", "rank1").n == int((labels >= 0).sum())
    for model in ("hr", "bicubic"):  # the same probes, a larger gallery: never easier
        with_d = _value(res, "lfw-openset", model, "rank1").value
        without = _value(res, "lfw-identification", model, "rank1").value
        assert with_d <= without


def test_hr_rank1_recomputes_outside_the_engine(openset_run, data_root, session_cache):
    """HR embeddings made here from the aligned chips, leave-one-out nearest neighbour by
    scikit-learn over probes and distractors: the run's rank-1 for HR."""
    _, res = openset_run
    fs = load_dataset(load_protocol("lfw-openset"), data_root, LIMIT)
    chips = ensure_aligned(fs, session_cache, 160, 0.25, progress=False)
    net = load_embedder("dlib-resnet29").eval()
    x = torch.stack([torch.from_numpy(read_rgb(chips.root / n).copy()).permute(2, 0, 1) for n in chips.names])
    with torch.inference_mode():
        emb = net(x.float() / 255).numpy().astype(np.float64)
    labels = np.asarray(fs.labels)
    nn = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(emb)
    _, idx = nn.kneighbors(emb[labels >= 0])
    probes = np.flatnonzero(labels >= 0)
    first_other = np.where(idx[:, 0] == probes, idx[:, 1], idx[:, 0])
    rank1 = float(np.mean(labels[first_other] == labels[probes]))
    assert _value(res, "lfw-openset", "hr", "rank1").value == pytest.approx(rank1, abs=1e-12)
