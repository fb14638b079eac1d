"""Text that reads as false never turns things on: one strict boolean parser for configs,
--model-args and --fr-args ("false" is false, "ture" is an error naming the argument)."""

from __future__ import annotations

import inspect
from typing import Optional  # the spelling a user's adapter may well use

import pytest

from srfacebench.config import RunConfig
from srfacebench.errors import ConfigError, ModelError
from srfacebench.registry import bind_args, load_embedder


def test_a_quoted_false_in_a_config_is_refused_not_truthy(tmp_path):
    with pytest.raises(ConfigError, match="lenient must be true or false"):
        RunConfig(models=("bicubic",), protocols=("lfw-verification",), out=tmp_path, lenient="false")
    assert RunConfig(models=("bicubic",), protocols=("lfw-verification",), out=tmp_path, lenient=False).lenient is False


def _adapter(scale, device="cpu", darken: Optional[bool] = None, strength: float | None = None):  # noqa: UP045
    return None


@pytest.mark.parametrize(("raw", "expected"), [("false", False), ("FALSE", False), ("0", False), ("true", True)])
def test_optional_bool_model_args_are_typed(raw, expected):
    assert bind_args(_adapter, {"darken": raw}, "m")["darken"] is expected
    assert bind_args(_adapter, {"strength": "0.5"}, "m")["strength"] == 0.5


def test_a_misspelt_boolean_is_an_error_naming_the_argument():
    with pytest.raises(ModelError, match="darken: expected true or false, got 'ture'"):
        bind_args(_adapter, {"darken": "ture"}, "model 'm'")
    assert inspect.signature(_adapter)  # the adapter itself is untouched


def test_fr_args_are_typed_and_checked_by_the_networks_signature():
    assert load_embedder("mobileface-v2", flip="false").flip is False
    assert load_embedder("mobileface-v2", flip="true").flip is True
    with pytest.raises(ModelError, match="flip: expected true or false, got 'ture'"):
        load_embedder("mobileface-v2", flip="ture")
    with pytest.raises(ModelError, match=r"unknown argument\(s\) \['flop'\]"):
        load_embedder("mobileface-v2", flop="1")
