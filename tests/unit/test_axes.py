"""Degradations and FR networks as axes of a run: work counted, rows per axis, merging, schema v1,
run configs, resume with noise, the cosine distance honoured."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from srfacebench.cli import main
from srfacebench.config import RunConfig, load_run_config
from srfacebench.engine import execute
from srfacebench.errors import ConfigError, ProtocolError
from srfacebench.plan import make_plan
from srfacebench.protocols import parse_protocol
from srfacebench.report import build_report, load_runs
from srfacebench.results import RunResult
from srfacebench.streaming import StreamCounts, Variant
from srfacebench.tasks import score_protocol

HISTORIC = Path(__file__).parents[1] / "data" / "historic"
DEGS = ["bicubic:4", "blur:sigma=1.5+bicubic:4", "bicubic:4+noise:sigma=10"]


@pytest.fixture
def facenet_weights(tmp_path):
    from srfacebench.embedders.facenet import InceptionResnetV1

    torch.manual_seed(0)
    path = tmp_path / "facenet-random.pt"
    torch.save(InceptionResnetV1().state_dict(), path)
    return path


def _cfg(tiny_data, tmp_path, out, **kw):
    data_root, proto = tiny_data
    base = dict(models=("good_adapter",), protocols=(str(proto),), out=tmp_path / out, data_root=data_root,
                cache_dir=tmp_path / "cache", progress=False, report=False)  # fmt: skip
    return RunConfig(**(base | kw))


def test_cost_grows_with_the_work_not_the_axes(tiny_data, tmp_path, adapters_path, facenet_weights):
    cfg = _cfg(tiny_data, tmp_path, "o", degradations=tuple(DEGS), embedders=("dlib-resnet29", "facenet-vggface2"),
               embedder_kwargs={"facenet-vggface2": {"weights": str(facenet_weights)}})  # fmt: skip
    counts = StreamCounts()
    res = execute(make_plan(cfg), counts)
    n = 8  # images in the tiny pool
    assert counts.decoded == n  # HR decoded once, whatever the number of degradations and networks
    assert counts.degraded == {d: n for d in DEGS}
    # each SR output once per (model, degradation), whatever the number of FR networks
    assert counts.super_resolved == {f"{m}|{d}": n for m in ("bicubic", "nearest-test") for d in DEGS}
    # HR embedded once per FR network; every SR output once per network
    assert counts.embedded["hr|none|dlib-resnet29"] == n and counts.embedded["hr|none|facenet-vggface2"] == n
    assert len(counts.embedded) == (1 + 2 * 3) * 2 and set(counts.embedded.values()) == {n}
    got = {(r.model, r.degradation, r.embedder) for r in res.rows}
    want = {("hr", "none", e) for e in cfg.embedders}
    want |= {(m, d, e) for m in ("bicubic", "nearest-test") for d in DEGS for e in cfg.embedders}
    assert got == want
    pairs = list(csv.DictReader((cfg.out / "pairs.csv").open()))
    assert {(p["degradation"], p["embedder"]) for p in pairs if p["model"] == "bicubic"} == {
        (d, e) for d in DEGS for e in cfg.embedders
    }
    # a rerun computes nothing
    again = StreamCounts()
    execute(make_plan(cfg), again)
    assert again.decoded == 0 and not again.embedded


def test_merging_two_fr_networks_keeps_both(tiny_data, tmp_path, adapters_path, facenet_weights):
    a = _cfg(tiny_data, tmp_path, "a", scales=(4,))
    b = _cfg(tiny_data, tmp_path, "b", scales=(4,), embedders=("facenet-vggface2",),
             embedder_kwargs={"facenet-vggface2": {"weights": str(facenet_weights)}})  # fmt: skip
    ra, rb = execute(make_plan(a)), execute(make_plan(b))
    runs = load_runs([a.out, b.out])
    assert len(runs.results) == len(ra.rows) + len(rb.rows)
    for res, run in ((ra, a.out), (rb, b.out)):
        for r in res.rows:
            hit = runs.results[(runs.results.model == r.model) & (runs.results.degradation == r.degradation)
                               & (runs.results.embedder == r.embedder) & (runs.results.metric == r.metric)]  # fmt: skip
            assert len(hit) == 1 and hit.value.iloc[0] == r.value and hit.run.iloc[0] == str(run)
    lb = build_report([a.out, b.out], tmp_path / "r.html", n_boot=20)
    assert set(lb.table.embedder) == {"dlib-resnet29", "facenet-vggface2"} and len(lb.table) == 6
    html = (tmp_path / "r.html").read_text()
    assert "model × FR network" in html


def test_historic_v1_results_load():
    res = RunResult.load(HISTORIC / "v1")
    assert res.schema_version == 2 and res.provenance["upgraded_from_schema"] == 1
    assert {(r.model, r.scale, r.degradation) for r in res.rows} == {
        ("hr", 1, "none"),
        ("bicubic", 4, "bicubic:4"),
        ("bicubic", 8, "bicubic:8"),
    }


def test_default_degradation_numbers_unchanged_from_v1(tmp_path):
    """Today's demo, run with the v2 engine, gives the v1 historic file's numbers for bicubic:S."""
    from srfacebench.demo import run_demo

    res = run_demo(out=tmp_path / "demo", cache_dir=tmp_path / "cache", progress=False, report=False)
    with (HISTORIC / "v1" / "results.csv").open() as fh:
        old = {(r["model"], int(r["scale"]), r["metric"]): float(r["value"]) for r in csv.DictReader(fh)}
    new = {(r.model, r.scale, r.metric): r.value for r in res.rows}
    assert set(new) == set(old)
    for k, v in old.items():
        assert new[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k


def test_resume_with_noise_is_byte_identical(tiny_data, tmp_path, adapters_path):
    cfg = _cfg(tiny_data, tmp_path, "o", degradations=("bicubic:4+noise:sigma=10", "realistic:4"))
    execute(make_plan(cfg))
    first = {f: (cfg.out / f).read_bytes() for f in ("results.csv", "pairs.csv", "images.csv")}
    # lose half the cache, as a killed run would, then resume in a fresh folder's copy
    shards = sorted((cfg.out / "cache").rglob("shard-*.npy"))
    for p in shards[::2]:
        p.unlink()
    execute(make_plan(cfg))
    for f, data in first.items():
        assert (cfg.out / f).read_bytes() == data, f
    fresh = cfg.replace(out=tmp_path / "fresh")
    shutil.rmtree(cfg.out / "cache")
    execute(make_plan(fresh))
    assert (fresh.out / "pairs.csv").read_bytes() == first["pairs.csv"]


def test_run_config_from_toml_and_cli(tiny_data, tmp_path, adapters_path, capsys):
    data_root, proto = tiny_data
    toml = tmp_path / "run.toml"
    toml.write_text(
        f'models = ["good_adapter"]\nprotocols = ["{proto}"]\ndegradations = ["bicubic:{{4,8}}"]\n'
        f'out = "cfg-out"\ndata_root = "{data_root}"\ncache_dir = "{tmp_path / "cache"}"\nreport = false\n'
    )
    cfg = load_run_config(toml)
    assert cfg.degradation_specs() == ["bicubic:4", "bicubic:8"] and cfg.out == tmp_path / "cfg-out"
    assert main(["run", "--config", str(toml), "--no-progress", "--limit", "2"]) == 0
    prov = json.loads((tmp_path / "cfg-out" / "results.json").read_text())["provenance"]
    assert prov["limit"] == 2 and "pairs per fold" in prov["subset"]
    assert prov["config"]["degradations"] == ["bicubic:{4,8}"]
    toml.write_text('modles = ["x"]\n')
    with pytest.raises(ConfigError, match="unknown key 'modles' \\(did you mean 'models'\\?\\)"):
        load_run_config(toml)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--degradation", "blurr:sigma=2+bicubic:4"], "(did you mean 'blur'"),
        (["--scale", "3"], "not divisible by the scale 3"),
        (["--scale", "4", "--batch-size", "0"], "batch_size must be a positive integer"),
        (["--scale", "4", "--device", "foo"], "device must be cpu"),
        (["--scale", "4", "--fr", "dlib"], "unknown FR network 'dlib'"),
        (["--scale", "4", "--fr-args", "weights"], "is not key=value"),
    ],
)
def test_bad_run_options_fail_before_any_work(tiny_data, tmp_path, capsys, args, message):
    data_root, proto = tiny_data
    code = main(["run", "--protocol", str(proto), "--out", str(tmp_path / "o"), "--data-root", str(data_root),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress", *args])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not (tmp_path / "cache").exists()  # nothing was aligned


def test_protocol_schema_is_checked_at_load():
    base = 'name = "p"\nversion = "1"\ntask = "identification"\nmain_score = "rank1"\n'
    base += '[dataset]\nname = "d"\nloader = "identity-folder"\nroot = "x"\n'
    ok = base + "[metrics]\nrank1 = {}\n"
    assert parse_protocol(ok, "p.toml").metric("rank1").higher_is_better
    with pytest.raises(ProtocolError, match="unknown key 'identifcation' \\(did you mean 'identification'\\?\\)"):
        parse_protocol(ok + "[identifcation]\nks = [1]\n", "p.toml")
    with pytest.raises(ProtocolError, match="unknown key 'rank2'"):
        parse_protocol(base + "[metrics]\nrank2 = {}\n", "p.toml")
    with pytest.raises(ProtocolError, match="ks must be a positive integer, got 0"):
        parse_protocol(ok + "[identification]\nks = [0]\n", "p.toml")
    with pytest.raises(ProtocolError, match="contradicts the catalogue"):
        parse_protocol(base + "[metrics]\nrank1 = { higher_is_better = false }\n", "p.toml")
    swept = ok.replace(
        'main_score = "rank1"\n', 'main_score = "rank1"\ndegradations = ["blur:sigma={1,2}+bicubic:4"]\n'
    )
    sweep = parse_protocol(swept, "p.toml")
    assert sweep.degradations == ("blur:sigma=1+bicubic:4", "blur:sigma=2+bicubic:4")


def test_cosine_networks_are_scored_with_cosine():
    from srfacebench.data.faceset import FaceSet, Pairs
    from srfacebench.protocols import load_protocol

    protocol = load_protocol("lfw-verification")
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(40, 8))
    scaled = emb * rng.uniform(0.1, 10, size=(40, 1))  # same directions, different norms
    pairs = Pairs(np.arange(0, 40, 2), np.arange(1, 40, 2), rng.random(20) < 0.5, np.repeat(np.arange(10), 2))
    fs = FaceSet("f", Path("."), [f"{i}.jpg" for i in range(40)], np.arange(40), [str(i) for i in range(40)], pairs)
    hr = Variant("hr", "none", 1)
    a = score_protocol(protocol, fs, np.arange(40), [hr], {hr.id: emb}, {}, "x", "cosine")
    b = score_protocol(protocol, fs, np.arange(40), [hr], {hr.id: scaled}, {}, "x", "cosine")
    assert [r.value for r in a.rows] == pytest.approx([r.value for r in b.rows])
    u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    by_hand = np.linalg.norm(u[pairs.a] - u[pairs.b], axis=1)  # monotone in 1 − cos
    cols, rows = a.items["pairs.csv"]
    assert cols[-3] == "distance"
    assert [float(p["distance"]) for p in rows] == pytest.approx(by_hand.tolist())
