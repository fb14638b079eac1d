"""Plugging models in as researchers do: model args, local modules and files, the namespace, a light
import, an honest results.json."""

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from srfacebench.demo import demo_data_root
from srfacebench.errors import ModelError
from srfacebench.registry import resolve_models

ESPCN = """
    import torch
    from torch import nn
    from srfacebench import ModelInfo

    class ESPCN(nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.conv = nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
            self.shuffle = nn.PixelShuffle(scale)

        def forward(self, lr):
            return self.shuffle(self.conv(lr)).clamp(0, 1)

    def load(scale, device="cpu", ckpt: str = "", gain: float = 1.0):
        net = ESPCN(scale)
        net.load_state_dict(torch.load(ckpt, weights_only=True))
        net.conv.weight.data *= gain
        net.info = ModelInfo(name=f"espcn-g{gain:g}")
        return net.eval().to(device)
"""


@pytest.fixture
def user_folder(tmp_path):
    """An empty folder with mymodels/espcn.py and a checkpoint, as a new user would have."""
    (tmp_path / "mymodels").mkdir()
    (tmp_path / "mymodels" / "__init__.py").write_text("")
    (tmp_path / "mymodels" / "espcn.py").write_text(textwrap.dedent(ESPCN))
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 48, 3, padding=1)
    torch.save({"conv.weight": net.weight.data * 0.1, "conv.bias": net.bias.data * 0 + 0.5}, tmp_path / "espcn.pth")
    return tmp_path


def _console_script() -> str:
    script = Path(sys.executable).parent / "srfacebench"
    if not script.is_file():
        pytest.skip("the srfacebench console script is not installed beside this Python")
    return str(script)


def test_local_module_with_model_args_from_an_empty_folder(user_folder, tmp_path):
    demo = demo_data_root()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["SRFACEBENCH_CACHE"] = str(tmp_path / "cache")
    cmd = [_console_script(), "run", "--model", "mymodels.espcn", "--model-args", "ckpt=espcn.pth,gain=0.5",
           "--protocol", str(demo / "lfw-verification-demo.toml"), "--scale", "4", "--data-root", str(demo),
           "--limit", "2", "--out", "out", "--no-report", "--no-progress"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=user_folder, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((user_folder / "out" / "results.json").read_text())
    assert "espcn-g0.5" in {r["model"] for r in res["rows"]}
    (model,) = [m for m in res["provenance"]["plan"]["models"] if m["spec"] == "mymodels.espcn"]
    assert model["args"] == {"ckpt": "espcn.pth", "gain": "0.5"}


def test_model_args_are_typed_and_unknown_keys_named(user_folder, monkeypatch):
    monkeypatch.chdir(user_folder)
    (ref,) = resolve_models(str(user_folder / "mymodels" / "espcn.py"))
    bound = ref.with_args({"ckpt": "espcn.pth", "gain": "0.25"})
    assert bound.kwargs == {"ckpt": "espcn.pth", "gain": 0.25}
    assert bound.load(4).info.name == "espcn-g0.25"
    with pytest.raises(ModelError, match=r"unknown argument\(s\) \['weigths'\]; its loader accepts: ckpt, gain"):
        ref.with_args({"weigths": "x"})
    with pytest.raises(ModelError, match="gain: expected a float, got 'big'"):
        ref.with_args({"gain": "big"})


def test_file_path_with_a_member(user_folder):
    (ref,) = resolve_models(f"{user_folder / 'mymodels' / 'espcn.py'}:load")
    assert ref.origin.startswith("file ")
    with pytest.raises(ModelError, match="not found"):
        resolve_models(str(user_folder / "nope.py"))


def test_unknown_model_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as e:
        resolve_models("mymodels.nothing_here")
    msg = str(e.value)
    assert "entry point of group 'srfacebench.models'" in msg and str(tmp_path) in msg and ".py" in msg


def test_reference_srresnet_takes_a_weights_path(tmp_path):
    from safetensors.torch import save_file

    from srfacebench.reference_models.srresnet import SRResNet

    torch.manual_seed(0)
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in SRResNet(4).state_dict().items()}, str(path))
    (ref,) = resolve_models("srfacebench.reference_models.srresnet:fr")
    model = ref.with_args({"weights": str(path)}).load(4)
    assert model.info.weights_sha256 and model.info.trained_against_fr == "dlib-resnet29"


def test_old_spellings_still_resolve_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="srfacebench.adapters.bicubic"):
        (ref,) = resolve_models("adapters.bicubic")
    assert ref.load(4).info.name == "bicubic-adapter"


def test_a_foreign_top_level_adapters_package_coexists(tmp_path):
    site = tmp_path / "site"
    (site / "adapters").mkdir(parents=True)
    (site / "adapters" / "__init__.py").write_text("HUB = 'AdapterHub stand-in'\n")
    code = (
        "import adapters, srfacebench.adapters.bicubic as b; from srfacebench.registry import resolve_models;"
        "print(adapters.HUB, resolve_models('srfacebench.adapters.bicubic')[0].load(2).info.name)"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "AdapterHub stand-in bicubic-adapter"


def test_import_and_help_do_not_import_torch():
    code = (
        "import sys, srfacebench\n"
        "assert 'torch' not in sys.modules, 'import srfacebench imported torch'\n"
        "from srfacebench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_public_api_has_real_signatures():
    import srfacebench

    assert "models" in inspect.signature(srfacebench.evaluate).parameters
    assert "run_dirs" in inspect.signature(srfacebench.load_runs).parameters
    assert srfacebench.evaluate.__doc__ and "Example" in srfacebench.evaluate.__doc__
    assert (Path(srfacebench.__file__).parent / "py.typed").is_file()


def test_files_are_written_with_the_users_umask(tmp_path):
    from srfacebench.io import atomic_write_text

    old = os.umask(0o022)
    try:
        import importlib

        import srfacebench.io as sio

        importlib.reload(sio)
        sio.atomic_write_text(tmp_path / "a.txt", "x")
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
        importlib.reload(sio)
    del atomic_write_text


RESULTS_SCHEMA = {
    # key: type — the documented contract of results.json (docs/results-schema.md)
    "schema_version": int,
    "provenance": dict,
    "rows": list,
    "details": list,
}
PROVENANCE_KEYS = {
    "package": str, "version": str, "created_utc": str, "git_commit": (str, type(None)), "python": str, "torch": str,
    "device": str, "config": dict, "plan": dict, "embedders": dict, "protocols": list, "model_infos": dict,
    "degradations": dict, "data_checksums": dict, "alignment": dict, "limit": (int, type(None)),
    "timings_s": dict, "notes": list, "conformance": dict, "work": dict, "degradation_axes": dict, "files": list,
    "conventions": dict,
}  # fmt: skip


def test_results_json_follows_the_documented_schema(tmp_path):
    from datetime import datetime

    from srfacebench.demo import run_demo

    run_demo(out=tmp_path / "d", scales=[4], cache_dir=tmp_path / "cache", progress=False, report=False, limit=2)
    data = json.loads((tmp_path / "d" / "results.json").read_text())
    for key, typ in RESULTS_SCHEMA.items():
        assert isinstance(data[key], typ), key
    assert data["schema_version"] == 2
    for key, typ in PROVENANCE_KEYS.items():
        assert isinstance(data["provenance"][key], typ), key
    prov = data["provenance"]
    assert datetime.fromisoformat(prov["created_utc"]).utcoffset().total_seconds() == 0
    assert prov["model_infos"]["bicubic|bicubic:4"]["info"]["name"] == "bicubic"
    doc = (Path(__file__).parents[2] / "docs" / "results-schema.md").read_text()
    for key in [*RESULTS_SCHEMA, *PROVENANCE_KEYS]:
        assert f"`{key}`" in doc, f"{key} is not documented in docs/results-schema.md"
    row = data["rows"][0]
    assert set(row) == {"model", "scale", "degradation", "protocol", "dataset", "embedder", "metric", "value",
                        "std", "n"}  # fmt: skip
