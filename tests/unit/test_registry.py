"""Model resolution: built-ins, module paths, zoos, entry points, and the errors users see."""

import importlib.metadata

import pytest
import torch

from srfacebench import registry
from srfacebench.errors import ModelError
from srfacebench.registry import resolve_models


def test_builtins():
    (hr,) = resolve_models("hr")
    assert hr.is_hr
    (bic,) = resolve_models("bicubic")
    model = bic.load(4)
    assert model.info.name == "bicubic"
    assert model(torch.rand(1, 3, 10, 10)).shape == (1, 3, 40, 40)


def test_repo_adapters_resolve_by_module_path():
    (ref,) = resolve_models("srfacebench.adapters.bicubic")
    assert ref.load(2).info.name == "bicubic-adapter"
    (tmpl,) = resolve_models("srfacebench.adapters.template")
    assert tmpl.load(3)(torch.rand(2, 3, 5, 5)).shape == (2, 3, 15, 15)


def test_module_and_zoo(adapters_path):
    (good,) = resolve_models("good_adapter")
    assert good.load(2).info.name == "nearest-test"
    zoo = resolve_models("zoo_adapter")
    assert [r.spec for r in zoo] == ["zoo_adapter:near", "zoo_adapter:bilin"]
    (one,) = resolve_models("zoo_adapter:bilin")
    assert one.load(2).info.name == "zoo-bilin"


def test_unknown_name_suggests():
    with pytest.raises(ModelError, match=r"unknown model 'bicubc' \(did you mean 'bicubic'\?\); known: .*bicubic"):
        resolve_models("bicubc")


def test_unknown_zoo_member(adapters_path):
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*known: bilin, near"):
        resolve_models("zoo_adapter:nope")


def test_broken_adapter_names_itself(adapters_path):
    with pytest.raises(ModelError, match=r"adapter module 'broken_import_adapter' failed to import: .*a_module_that"):
        resolve_models("broken_import_adapter")


def test_adapter_without_info(adapters_path):
    (ref,) = resolve_models("no_info_adapter")
    with pytest.raises(ModelError, match="no 'info' attribute"):
        ref.load(4)


def test_entry_point(monkeypatch, adapters_path):
    ep = importlib.metadata.EntryPoint(name="ep-model", value="good_adapter", group=registry.MODEL_GROUP)
    monkeypatch.setattr(
        registry, "_entry_points", lambda group: {"ep-model": ep} if group == registry.MODEL_GROUP else {}
    )
    (ref,) = resolve_models("ep-model")
    assert ref.origin == "entry point good_adapter"
    assert ref.load(2).info.name == "nearest-test"
    assert "ep-model" in registry.available_models()


def test_register_model_from_python():
    from srfacebench.resolver import BicubicUpsampler

    registry.register_model("my-bicubic", lambda scale, device="cpu", **kw: BicubicUpsampler(scale))
    try:
        (ref,) = resolve_models("my-bicubic")
        assert ref.origin == "built-in" and ref.load(2).info.name == "bicubic"
        with pytest.raises(ValueError, match="already registered"):
            registry.register_model("my-bicubic", lambda scale, device="cpu": None)
    finally:
        registry._BUILTIN_MODELS.pop("my-bicubic", None)
