"""Reports: bootstrap reproducibility and coverage, paired tests by hand, merging, escaping."""

import csv
import json

import numpy as np
import pytest

from srfacebench.engine import evaluate
from srfacebench.errors import DataError
from srfacebench.metrics.stats import (
    bootstrap_clusters,
    bootstrap_verification,
    mcnemar_p,
    paired_bootstrap_p,
    percentile_ci,
    wilcoxon_p,
)
from srfacebench.report import build_report, load_runs


def test_bootstrap_is_reproducible_with_the_same_seed():
    rng = np.random.default_rng(0)
    d, s, f = rng.random(200), rng.random(200) < 0.5, np.repeat(np.arange(10), 20)
    a = bootstrap_verification(d, s, f, 50, seed=3, tag="p")
    b = bootstrap_verification(d, s, f, 50, seed=3, tag="p")
    c = bootstrap_verification(d, s, f, 50, seed=4, tag="p")
    for m in a.replicates:
        np.testing.assert_array_equal(a.replicates[m], b.replicates[m])
    assert not np.array_equal(a.replicates["auc"], c.replicates["auc"])


def test_cluster_bootstrap_covers_the_true_mean():
    # 300 synthetic experiments: 40 identities × 5 probes, identity-level success rate drawn
    # around a true rate of 0.7. The 95% interval should contain 0.7 about 95% of the time.
    rng = np.random.default_rng(1)
    hits = 0
    trials = 300
    for t in range(trials):
        p_id = np.clip(rng.normal(0.7, 0.1, 40), 0, 1)
        clusters = np.repeat(np.arange(40), 5)
        x = rng.random(200) < p_id[clusters]
        res = bootstrap_clusters({"acc": x}, clusters, 400, seed=t, tag="cov")
        lo, hi = res.ci("acc")
        hits += lo <= 0.7 <= hi
    assert 0.90 <= hits / trials <= 0.99


def test_mcnemar_by_hand():
    # 1 probe only A gets right, 9 only B: p = 2·P(Bin(10, ½) ≤ 1) = 2·11/1024.
    a = np.array([1] + [0] * 9 + [1] * 5, bool)
    b = np.array([0] + [1] * 9 + [1] * 5, bool)
    assert mcnemar_p(a, b) == pytest.approx(22 / 1024)
    assert mcnemar_p(a, a) == 1.0


def test_paired_bootstrap_and_wilcoxon_edges():
    # no replicate on the far side of zero: p = 2·(0 + 1)/(B + 1), by hand, never 0
    assert paired_bootstrap_p(np.array([2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0])) == pytest.approx(2 / 4)
    assert paired_bootstrap_p(np.arange(1.0, 200.0), np.zeros(199)) == pytest.approx(2 / 200)
    assert paired_bootstrap_p(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0
    assert wilcoxon_p(np.ones(5), np.ones(5)) == 1.0
    assert percentile_ci(np.arange(1001.0)) == pytest.approx((25.0, 975.0))


@pytest.fixture
def two_runs(tiny_data, tmp_path, adapters_path):
    data_root, proto = tiny_data
    kw = dict(data_root=data_root, cache_dir=tmp_path / "cache", progress=False, n_boot=50)
    a, b = tmp_path / "run-a", tmp_path / "run-b"
    evaluate(["good_adapter"], [str(proto)], [4], a, **kw)
    evaluate(["xss_adapter"], [str(proto)], [4], b, **kw)
    return a, b


def test_merge_keeps_every_number_of_its_own_run(two_runs, tmp_path):
    a, b = two_runs
    lb = build_report([a, b], tmp_path / "r.html", csv_path=tmp_path / "lb.csv", md_path=tmp_path / "lb.md",
                      json_path=tmp_path / "lb.json", n_boot=50)  # fmt: skip
    merged = {(r.model, int(r.scale), r.metric): r.value for r in lb.metrics.itertuples()}
    for run in (a, b):
        with (run / "results.csv").open() as fh:
            for row in csv.DictReader(fh):
                assert merged[(row["model"], int(row["scale"]), row["metric"])] == float(row["value"])
    models = set(lb.table.model)
    assert models == {"hr", "bicubic", "nearest-test", "<script>alert(1)</script>"}
    with (tmp_path / "lb.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {r["baseline"] for r in rows} == {"HR (upper bound)", "bicubic (LR)", ""}
    assert "tiny-verification/accuracy ↑" in rows[0]
    assert (tmp_path / "lb.md").read_text().startswith("| embedder | degradation | model | scale | baseline |")


def test_model_names_are_escaped(two_runs, tmp_path):
    a, b = two_runs
    build_report([a, b], tmp_path / "r.html", n_boot=20)
    html = (tmp_path / "r.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _edit(run, fn):
    data = json.loads((run / "results.json").read_text())
    fn(data)
    (run / "results.json").write_text(json.dumps(data))


def test_runs_that_measured_different_things_do_not_merge(two_runs):
    a, b = two_runs
    _edit(b, lambda d: d["provenance"]["model_infos"]["bicubic|bicubic:4"].update(version="other"))
    with pytest.raises(DataError, match=r"different things for bicubic under bicubic:4, FR dlib-resnet29, "
                       r"tiny-verification \w+: the model recorded in .*run-b differ"):  # fmt: skip
        load_runs([a, b])


def test_runs_of_other_data_do_not_merge(two_runs):
    a, b = two_runs
    _edit(b, lambda d: next(iter(d["provenance"]["data_checksums"].values())).update({"pairs.txt": "0" * 64}))
    with pytest.raises(DataError, match="the data recorded in"):
        load_runs([a, b])


def test_float_noise_between_runs_of_one_identity_merges_with_a_note(two_runs):
    # The same variant computed on another machine or batch size: embeddings differ by ~1e-7,
    # so a number may too. Same identity -> merged, the first run's value kept, the difference noted.
    a, b = two_runs
    first = next(r["value"] for r in json.loads((a / "results.json").read_text())["rows"] if r["model"] == "hr")
    _edit(b, lambda d: next(r for r in d["rows"] if r["model"] == "hr").update(value=first + 3e-7))
    runs = load_runs([a, b])
    hr = runs.results[(runs.results.model == "hr")]
    assert first in set(hr.value) and (first + 3e-7) not in set(hr.value)
    assert len(runs.notes) == 1 and "differing by up to 3e-07" in runs.notes[0]


def test_runs_without_identities_must_agree_exactly(two_runs):
    a, b = two_runs

    def legacy(d):
        d["provenance"].pop("model_infos")
        next(r for r in d["rows"] if r["model"] == "hr")["value"] += 0.25

    _edit(b, legacy)
    with pytest.raises(DataError, match="runs disagree on hr under none, FR dlib-resnet29, tiny-verification"):
        load_runs([a, b])
