"""Every plug-in kind added from outside the package in one module, with no edit elsewhere, and run
through ``run`` and ``report``: an FR network and a dataset loader from module paths, a degradation
operation from an entry point (and one registered from Python, reported by a process that does not
know it). Tasks: ``test_tasks.py``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from srfacebench.cli import main

FR_NET = """
import torch.nn.functional as F
from srfacebench.embedders.base import FaceEmbedder


class PoolNet(FaceEmbedder):
    '''A stand-in FR network: 4x4 average colours of a 32x32 face (48 numbers).'''

    name = "pool-net"
    input_size = (32, 32)
    dim = 48

    def normalise(self, x):
        return x * 2 - 1

    def embed_normalised(self, x):
        return F.avg_pool2d(x, 8).flatten(1)


EMBEDDER = PoolNet
"""

POSTERIZE = """
import torch
from srfacebench.degradations import DegradationOp


class Posterize(DegradationOp):
    '''Quantise to ``levels`` grey levels per channel.'''

    name = "posterize"
    positional = "levels"
    params = {"levels": (int, None)}

    def apply(self, x, keys):
        n = self.args["levels"] - 1
        return torch.round(x * n) / n
"""

LIST_LOADER = """
import csv
import numpy as np
from srfacebench.data.faceset import FaceSet
from srfacebench.data.loaders import DatasetLoader


class ListLoader(DatasetLoader):
    '''Images and identities from a CSV file (path,identity) inside the dataset folder.'''

    name = "csv-list"
    options = frozenset({"list"})
    path_options = frozenset({"list"})

    def read(self, root, name, limit, options):
        rows = list(csv.reader((root / options.get("list", "faces.csv")).open()))
        ids = list(dict.fromkeys(r[1] for r in rows))
        labels = np.array([ids.index(r[1]) for r in rows], dtype=np.int64)
        return FaceSet(name, root, [r[0] for r in rows], labels, ids)


LOADER = ListLoader
"""

IDENT = """
name = "tiny-ident"
version = "0.1"
task = "identification"
main_score = "rank1"
[dataset]
name = "tiny-ids"
loader = "{loader}"
root = "tiny"
{options}
[identification]
ks = [1]
fpir = []
[metrics]
rank1 = {{}}
fr_loss = {{}}
"""


def _run(tiny_data, tmp_path: Path, proto: Path, *extra: str) -> Path:
    data_root, _ = tiny_data
    out = tmp_path / "out"
    code = main(["run", "--protocol", str(proto), "--scale", "4", "--data-root", str(data_root), "--cache-dir",
                 str(tmp_path / "cache"), "--no-progress", "--no-report", "--out", str(out), *extra])  # fmt: skip
    assert code == 0
    return out


def _report(out: Path, tmp_path: Path) -> str:
    html = tmp_path / "r.html"
    assert main(["report", str(out), "-o", str(html), "--bootstrap", "20"]) == 0
    return html.read_text()


def _rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "results.csv").open()))


def test_an_fr_network_from_a_module_path(tiny_data, tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "poolnet.py").write_text(FR_NET)
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    _, proto = tiny_data
    out = _run(tiny_data, tmp_path, proto, "--fr", "poolnet", "--fr", "dlib-resnet29")
    rows = _rows(out)
    assert {r["embedder"] for r in rows} == {"poolnet", "dlib-resnet29"}
    acc = {(r["model"], r["embedder"]): float(r["value"]) for r in rows if r["metric"] == "accuracy"}
    assert 0.0 <= acc[("bicubic", "poolnet")] <= 1.0
    prov = json.loads((out / "results.json").read_text())["provenance"]
    assert prov["embedders"]["poolnet"]["name"] == "pool-net" and prov["conformance"]["fr:poolnet"]
    assert "poolnet" in _report(out, tmp_path)


def test_an_unknown_fr_network_that_is_another_module_is_named(tiny_data, tmp_path, capsys):
    _, proto = tiny_data
    data_root, _ = tiny_data
    code = main(["run", "--protocol", str(proto), "--scale", "4", "--data-root", str(data_root), "--fr", "json",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "unknown FR network 'json'" in err and "defines no EMBEDDER" in err
    assert not (tmp_path / "o").exists()


def test_a_dataset_loader_from_a_module_path(tiny_data, tmp_path, monkeypatch, capsys):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "listloader.py").write_text(LIST_LOADER)
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    data_root, _ = tiny_data
    imgs = sorted((data_root / "tiny" / "imgs").rglob("*.jpg"))
    (data_root / "tiny" / "faces.csv").write_text(
        "".join(f"{p.relative_to(data_root / 'tiny')},{p.parent.name}\n" for p in imgs)
    )
    proto = tmp_path / "ident.toml"
    proto.write_text(IDENT.format(loader="listloader", options='list = "faces.csv"'))
    out = _run(tiny_data, tmp_path, proto)
    ranks = [r for r in _rows(out) if r["metric"] == "rank1"]
    assert {r["model"] for r in ranks} == {"hr", "bicubic"} and all(r["n"] == "8" for r in ranks)
    probes = list(csv.DictReader((out / "probes.csv").open()))
    assert {p["identity"] for p in probes} == {"Ann_A", "Bob_B", "Cid_C", "Dee_D"}
    assert "tiny-ident" in _report(out, tmp_path)
    leaving = tmp_path / "leave.toml"  # the loader's path options are checked like the built-ins'
    leaving.write_text(IDENT.format(loader="listloader", options='list = "../faces.csv"'))
    capsys.readouterr()
    assert main(["run", "--protocol", str(leaving), "--scale", "4", "--data-root", str(data_root),
                 "--out", str(tmp_path / "o2")]) == 2  # fmt: skip
    assert "[dataset] list = '../faces.csv' leaves the data root" in capsys.readouterr().err


def _dist(site: Path, entry: str) -> None:
    (site / "posterize_pkg").mkdir(parents=True)
    (site / "posterize_pkg" / "__init__.py").write_text(POSTERIZE)
    dist = site / "posterize_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: posterize-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry)


def test_a_degradation_from_an_entry_point(tiny_data, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "[srfacebench.degradations]\nposterize = posterize_pkg:Posterize\n")
    monkeypatch.syspath_prepend(str(site))
    _, proto = tiny_data
    out = _run(tiny_data, tmp_path, proto, "--degradation", "posterize:{4,16}+bicubic:4")
    degs = {r["degradation"] for r in _rows(out)}
    assert {"posterize:4+bicubic:4", "posterize:16+bicubic:4"} <= degs
    prov = json.loads((out / "results.json").read_text())["provenance"]
    axes = prov["degradation_axes"]["posterize:4+bicubic:4"]
    assert {"family": "posterize:*+bicubic:4", "param": "posterize.levels", "value": 4.0}.items() <= axes[0].items()
    # A process without the plug-in reports the run: severity curves come from the recorded axes.
    code = textwrap.dedent(f"""
        import sys
        from srfacebench.cli import main
        code = main(["report", {str(out)!r}, "-o", {str(tmp_path / "r.html")!r}, "--bootstrap", "20"])
        print(code, "posterize" in __import__("srfacebench.degradations").degradations.DEGRADATIONS)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    res = proc.stdout.strip().splitlines()[-1].split()
    assert res == ["0", "False"]
    assert "metrics against degradation severity" in (tmp_path / "r.html").read_text()
