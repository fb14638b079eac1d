"""The floors of the house: no module imports one above its floor (function-level imports count;
``if TYPE_CHECKING:`` blocks do not), the report side never imports torch, and every package is
shipped."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PKG = ROOT / "srfacebench"

# Bottom to top. A module may import its own floor or any floor below; the first matching prefix wins.
FLOORS: list[tuple[str, ...]] = [
    ("srfacebench._version", "srfacebench._lazy", "srfacebench.errors", "srfacebench.io", "srfacebench.plugins",
     "srfacebench.metrics.catalogue"),
    ("srfacebench.results", "srfacebench.fingerprint", "srfacebench.degrade", "srfacebench.metrics.verification",
     "srfacebench.metrics.identification", "srfacebench.metrics.stats", "srfacebench.metrics.image",
     "srfacebench.data.images", "srfacebench.data.faceset", "srfacebench.resolver", "srfacebench.embedders",
     "srfacebench.zoo.finetuned", "srfacebench.zoo.catalogue", "srfacebench.zoo.ncnn", "srfacebench.zoo.tfjs",
     "srfacebench.distributed",
     "srfacebench.metrics"),
    ("srfacebench.losses", "srfacebench.degradations", "srfacebench.data", "srfacebench.tasks",
     "srfacebench.zoo", "srfacebench.conformance", "srfacebench.testing"),
    ("srfacebench.protocols", "srfacebench.registry", "srfacebench.config", "srfacebench.adapters",
     "srfacebench.reference_models"),
    ("srfacebench.plan", "srfacebench.streaming", "srfacebench.samples", "srfacebench.embed", "srfacebench.train",
     "srfacebench.metrics.torchmetrics"),
    ("srfacebench.engine", "srfacebench.report", "srfacebench.demo"),
    ("srfacebench.cli", "srfacebench"),
]  # fmt: skip


def _module_names() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


MODULES = _module_names()


def floor(module: str) -> int:
    best = None
    for i, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[1]):
                best = (i, len(prefix))
    assert best is not None, f"{module} is on no floor: add it to FLOORS"
    return best[0]


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):  # imports under `if TYPE_CHECKING:` are for type checkers only
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            skip |= {id(n) for n in ast.walk(node)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            while t not in MODULES and "." in t:
                t = t.rpartition(".")[0]
            if t in MODULES and t != module and not module.startswith(t + "."):  # a package's own parents
                found.add(t)
    return found


def test_every_module_is_on_a_floor_and_imports_none_above_it():
    upward = [
        f"{m} (floor {floor(m)}) imports {t} (floor {floor(t)})"
        for m, p in sorted(MODULES.items())
        for t in sorted(_imports(m, p))
        if floor(t) > floor(m)
    ]
    assert not upward, "imports up a floor:\n" + "\n".join(upward)


def test_the_floor_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from srfacebench.engine import run\n")
    assert "srfacebench.engine" in _imports("srfacebench.results", bad)
    assert floor("srfacebench.engine") > floor("srfacebench.results")


def test_every_package_is_shipped():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages <= listed, f"packages missing from pyproject.toml: {sorted(packages - listed)}"


@pytest.fixture
def run_folder(tiny_data, tmp_path) -> Path:
    from srfacebench.cli import main

    data_root, proto = tiny_data
    out = tmp_path / "run"
    assert main(["run", "--protocol", str(proto), "--scale", "4", "--data-root", str(data_root), "--cache-dir",
                 str(tmp_path / "cache"), "--no-progress", "--no-report", "--out", str(out)]) == 0  # fmt: skip
    return out


def test_report_and_load_runs_do_not_import_torch(run_folder, tmp_path):
    code = (
        "import sys\n"
        "from srfacebench import load_runs\n"
        f"runs = load_runs([{str(run_folder)!r}])\n"
        "assert not runs.results.empty and not runs.pairs.empty\n"
        "from srfacebench.cli import main\n"
        f"assert main(['report', {str(run_folder)!r}, '-o', {str(tmp_path / 'r.html')!r}, '--bootstrap', '20']) == 0\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'faiss') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "r.html").stat().st_size > 10_000
