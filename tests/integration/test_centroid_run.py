"""The centroid task on real faces, beside identification on the same LFW people: one pool, the
HR floor below bicubic at x8, and every number recomputed from centroids.csv."""

import csv
import json
from collections import defaultdict

import numpy as np
import pytest

from srfacebench.engine import evaluate

PEOPLE = """
[dataset]
name = "lfw"
loader = "identity-folder"
root = "lfw"
images = "lfw-deepfunneled"
min_images = 40
max_images = 60
"""
CENTROID = (
    'name = "lfw-centroid-small"\nversion = "test"\ntask = "centroid"\nmain_score = "centroid_fr_loss"\n'
    + PEOPLE
    + "[metrics]\ncentroid_fr_loss = {}\nfr_loss = {}\n"
)
IDENT = (
    'name = "lfw-identification-small"\nversion = "test"\ntask = "identification"\nmain_score = "rank1"\n'
    + PEOPLE
    + "[metrics]\nrank1 = {}\n"
)


@pytest.fixture(scope="module")
def centroid_run(data_root, session_cache, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("centroid")
    (tmp / "c.toml").write_text(CENTROID)
    (tmp / "i.toml").write_text(IDENT)
    out = tmp / "out"
    evaluate(["bicubic"], [str(tmp / "c.toml"), str(tmp / "i.toml")], [8], out, data_root=data_root,
             cache_dir=session_cache, progress=False)  # fmt: skip
    return out


def test_centroid_numbers_recompute_from_the_items_and_order(centroid_run):
    rows = list(csv.DictReader((centroid_run / "results.csv").open()))
    value = {(r["protocol"], r["model"], r["metric"]): float(r["value"]) for r in rows}
    items = list(csv.DictReader((centroid_run / "centroids.csv").open()))
    per = defaultdict(list)
    for it in items:
        per[it["model"]].append(float(it["centroid_fr_loss"]))
        assert int(it["mates"]) >= 39  # min_images = 40: every image has at least 39 others
    for model in ("hr", "bicubic"):
        assert value[("lfw-centroid-small", model, "centroid_fr_loss")] == pytest.approx(np.mean(per[model]), rel=1e-9)
    hr, bic = (
        value[("lfw-centroid-small", "hr", "centroid_fr_loss")],
        value[("lfw-centroid-small", "bicubic", "centroid_fr_loss")],
    )
    assert hr < bic  # an x8 bicubic face is farther from its person than the HR photo is
    assert len(per["hr"]) == len(per["bicubic"]) == len({it["image"] for it in items})


def test_centroid_and_identification_share_one_pool(centroid_run):
    prov = json.loads((centroid_run / "results.json").read_text())["provenance"]
    pools = prov["plan"]["pools"]
    assert len(pools) == 1
    assert {"centroids.csv", "probes.csv", "images.csv"} <= set(prov["files"])
