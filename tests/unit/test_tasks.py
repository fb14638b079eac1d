"""Tasks as plug-ins: the built-in centroid task against a hand computation, identification's
per-item columns following its ``ks``, and a task from outside the package (module path and
entry point) run through ``run`` and ``report``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from srfacebench.cli import main
from srfacebench.data.faceset import FaceSet
from srfacebench.errors import ProtocolError
from srfacebench.protocols import parse_protocol
from srfacebench.tasks import TASKS, TaskInput, get_task, score_protocol
from srfacebench.tasks.centroid import leave_one_out_centroids

CENTROID = """
name = "tiny-centroid"
version = "0.1"
task = "{task}"
main_score = "{main}"
[dataset]
name = "tiny-ids"
loader = "identity-folder"
root = "tiny"
images = "imgs"
[metrics]
{main} = {{}}
fr_loss = {{}}
"""


def _faceset(labels: list[int]) -> FaceSet:
    n = len(labels)
    return FaceSet(
        "f", Path("."), [f"{i}.jpg" for i in range(n)], np.array(labels), [f"p{j}" for j in range(max(labels) + 1)]
    )


def _centroid_by_hand(emb: np.ndarray, hr: np.ndarray, labels: list[int], normalise: bool) -> list[float]:
    out = []
    for i, li in enumerate(labels):
        others = [hr[j] for j, lj in enumerate(labels) if lj == li and j != i]
        if not others:
            continue
        c = sum(others) / len(others)
        if normalise:
            c = c / np.sqrt(sum(v * v for v in c))
        out.append(float(sum((emb[i][k] - c[k]) ** 2 for k in range(len(c)))))
    return out


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_centroid_fr_loss_equals_the_hand_computation(distance):
    rng = np.random.default_rng(3)
    labels = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3]  # person 2 has one image: no centroid, not scored
    hr = rng.normal(size=(10, 6))
    sr = hr + rng.normal(scale=0.3, size=hr.shape)
    if distance == "cosine":
        hr = hr / np.linalg.norm(hr, axis=1, keepdims=True)
        sr = sr / np.linalg.norm(sr, axis=1, keepdims=True)
    protocol = parse_protocol(CENTROID.format(task="centroid", main="centroid_fr_loss"), "c.toml")
    fs = _faceset(labels)
    res = get_task("centroid").score(TaskInput(protocol, fs, "m", "bicubic:4", False, sr, hr, None, "cpu", distance))
    expected = _centroid_by_hand(sr, hr, labels, normalise=distance == "cosine")
    assert [float(r[-1]) for r in res.items] == pytest.approx(expected, rel=1e-12)
    assert res.n == 9 and res.detail["centroid"] == {"scored": 9, "without_mates": 1}
    assert res.metrics["centroid_fr_loss"][0] == pytest.approx(np.mean(expected), rel=1e-12)
    assert [r[2] for r in res.items] == [2, 2, 2, 1, 1, 3, 3, 3, 3]  # mates per scored image


def test_leave_one_out_centroid_never_includes_the_image_itself():
    hr = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0], [9.0, 9.0]])
    cent, mates = leave_one_out_centroids(hr, np.array([5, 5, 5, 7]))
    np.testing.assert_allclose(cent[:3], [[3.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    assert np.isnan(cent[3]).all() and mates.tolist() == [2, 2, 2, 0]


def test_centroid_needs_a_labelled_loader_and_two_images_of_someone():
    bad = CENTROID.format(task="centroid", main="centroid_fr_loss").replace(
        'loader = "identity-folder"', 'loader = "lfw-pairs"'
    )
    with pytest.raises(ProtocolError, match=r"cannot serve task 'centroid'.*needs labels"):
        parse_protocol(bad, "c.toml")
    protocol = parse_protocol(CENTROID.format(task="centroid", main="centroid_fr_loss"), "c.toml")
    from srfacebench.errors import DataError

    with pytest.raises(DataError, match="0 identities with two or more images"):
        get_task("centroid").check(protocol, _faceset([0, 1, 2]), "protocol 'tiny-centroid'")


def test_identification_items_follow_its_ks():
    spec = CENTROID.format(task="identification", main="rank1").replace("fr_loss = {}", "knn3_accuracy = {}")
    protocol = parse_protocol(spec + "[identification]\nks = [1, 3]\nmax_rank = 5\n", "i.toml")
    assert "knn3_accuracy" in get_task("identification").metrics(protocol.options)
    rng = np.random.default_rng(0)
    labels = [i // 3 for i in range(24)]  # 8 identities × 3 images
    emb = rng.normal(size=(24, 4)) + np.repeat(rng.normal(scale=4, size=(8, 4)), 3, axis=0)

    class V:
        id, model, scale, degradation, is_hr = "hr|none", "hr", 1, "none", True

    out = score_protocol(protocol, _faceset(labels), np.arange(24), [V()], {V.id: emb}, {}, "x")
    cols, rows = out.items["probes.csv"]
    assert cols[-2:] == ["knn1", "knn3"] and "knn5" not in cols
    assert all(set(r) == set(cols) for r in rows)


def test_unknown_task_says_what_is_known():
    with pytest.raises(ProtocolError, match=r"unknown task 'verificaton' \(did you mean 'verification'\?\)"):
        parse_protocol(CENTROID.format(task="verificaton", main="accuracy"), "c.toml")
    assert {"verification", "identification", "centroid"} <= set(TASKS.names())


SELF_MATCH = '''
"""A task from outside the package: does each face's nearest HR embedding belong to its own photo?"""
import numpy as np
from srfacebench.metrics.catalogue import MetricInfo
from srfacebench.tasks import Curves, Task, TaskScore


class SelfMatch(Task):
    name = "self-match"
    items_file = "selfmatch.csv"
    bootstrap_tag = "/selfmatch"
    convention = "nearest HR embedding (squared Euclidean) is the face's own photo"

    def metrics(self, options):
        return {"self_match": MetricInfo("self_match", True, "images", "own HR photo is the nearest")}

    def columns(self, options):
        return ["image", "self_match"]

    def score(self, x):
        d = ((x.emb[:, None, :] - x.hr_emb[None, :, :]) ** 2).sum(-1)
        hit = d.argmin(axis=1) == np.arange(len(d))
        items = [[x.faceset.paths[i], int(hit[i])] for i in range(len(hit))]
        return TaskScore({"self_match": (float(hit.mean()), float(hit.std()))}, len(hit), {}, items)

    def replicates(self, items, options, n_boot, seed, tag):
        from srfacebench.metrics.stats import bootstrap_clusters

        g = items.sort_values("image")
        return dict(bootstrap_clusters({"self_match": g.self_match.to_numpy(float)}, np.arange(len(g)), n_boot,
                                       seed, tag).replicates)

    def curves(self, view, degradation):
        series = [(m, np.arange(len(g)), np.cumsum(g.self_match.to_numpy(float))) for (m, d), g in view.items.items()]
        return [Curves(f"{view.protocol} ({view.embedder}): self-match, {degradation}", "image", "hits", series)]


TASK = SelfMatch
'''


def _plugin_protocol(tmp_path: Path, task: str) -> Path:
    proto = tmp_path / "selfmatch.toml"
    proto.write_text(CENTROID.format(task=task, main="self_match").replace("tiny-centroid", "tiny-selfmatch"))
    return proto


def _run_and_report(tiny_data, tmp_path: Path, proto: Path) -> tuple[Path, str]:
    data_root, _ = tiny_data
    out = tmp_path / "out"
    code = main(["run", "--protocol", str(proto), "--scale", "4", "--data-root", str(data_root), "--cache-dir",
                 str(tmp_path / "cache"), "--no-progress", "--no-report", "--out", str(out)])  # fmt: skip
    assert code == 0
    html = tmp_path / "r.html"
    assert main(["report", str(out), "-o", str(html), "--csv", str(tmp_path / "lb.csv"), "--bootstrap", "50"]) == 0
    return out, html.read_text()


def test_a_task_from_a_module_path_runs_through_run_and_report(tiny_data, tmp_path, monkeypatch):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "selfmatch_task.py").write_text(SELF_MATCH)
    monkeypatch.syspath_prepend(str(mods))
    out, html = _run_and_report(tiny_data, tmp_path, _plugin_protocol(tmp_path, "selfmatch_task"))
    rows = list(csv.DictReader((out / "results.csv").open()))
    got = {(r["model"], r["metric"]): float(r["value"]) for r in rows}
    assert got[("hr", "self_match")] == 1.0  # HR against itself always finds its own photo
    assert 0.0 <= got[("bicubic", "self_match")] <= 1.0 and ("bicubic", "fr_loss") in got
    items = list(csv.DictReader((out / "selfmatch.csv").open()))
    assert len(items) == 2 * 8 and list(items[0])[-2:] == ["image", "self_match"]
    prov = json.loads((out / "results.json").read_text())["provenance"]
    assert "selfmatch.csv" in prov["files"] and prov["conventions"]["self-match"].startswith("nearest HR")
    assert "self_match" in html and "self-match curves" in html
    lb = list(csv.DictReader((tmp_path / "lb.csv").open()))
    col = next(c for c in lb[0] if c.startswith("tiny-selfmatch/self_match") and c.endswith("ci_low"))
    assert any(r[col] for r in lb)  # intervals from the task's own replicates


def test_a_task_from_an_entry_point_resolves_in_a_fresh_process(tmp_path):
    site = tmp_path / "site"
    (site / "selfmatch_pkg").mkdir(parents=True)
    (site / "selfmatch_pkg" / "__init__.py").write_text(SELF_MATCH)
    dist = site / "selfmatch_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: selfmatch-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[srfacebench.tasks]\nself-match = selfmatch_pkg:SelfMatch\n")
    code = textwrap.dedent(f"""
        import sys
        from srfacebench.protocols import parse_protocol
        from srfacebench.tasks import TASKS
        p = parse_protocol({CENTROID.format(task="self-match", main="self_match")!r}, "p.toml")
        print(p.task_object.name, TASKS.source("self-match"), "self-match" in TASKS.names(), "torch" in sys.modules)
    """)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["self-match", "entry", "point", "selfmatch_pkg:SelfMatch", "True", "False"]


def test_list_tasks_shows_what_each_needs(capsys):
    assert main(["list", "tasks"]) == 0
    lines = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "needs=pairs" in lines["verification"] and "needs=labels" in lines["centroid"]
    assert "metrics=centroid_fr_loss" in lines["centroid"] and "knn5_accuracy" in lines["identification"]
