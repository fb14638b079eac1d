"""Read a TensorFlow.js *layers* model (``model.json`` + binary weight shards) into a torch module.

The Keras functional graph in ``modelTopology`` becomes an ``nn.Module`` computing in N×C×H×W
(channels first, as torch does; Keras's channels-last kernels are transposed at load). Weights
come from the ``weightsManifest``: each group's shards are concatenated in order and split by the
listed shapes (float32 only). Supported layers: InputLayer, Conv2D, Activation, Add, Multiply,
Concatenate, UpSampling2D, and the custom layers UpscalerJS registers (``MultiplyBeta`` — a
constant product — and ``PixelShuffle<N>x`` — TF's ``depth_to_space``, whose channel order is not
torch's ``pixel_shuffle``). More custom layers can be given as ``custom={class_name: fn(config)}``
returning a callable on NCHW tensors.

Errors name the file and the layer: an unknown layer class or activation, a missing, extra or
mis-shaped weight, a shard shorter or longer than the manifest says, quantised or non-float32
weights, a graph format this reader does not know (e.g. Keras 3).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from .ncnn import depth_to_space_dcr

__all__ = ["TfjsLayersModel", "read_weights"]

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "swish": F.silu,
    "silu": F.silu,
    "relu6": F.relu6,
}


def read_weights(model_json: Path, manifest: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The named float32 arrays of a TF.js weights manifest, checked against the shard sizes."""
    out: dict[str, np.ndarray] = {}
    for g, group in enumerate(manifest):
        data = b""
        for rel in group.get("paths", []):
            shard = model_json.parent / rel
            if not shard.is_file():
                raise ModelError(f"{model_json}: weight shard {shard} not found")
            data += shard.read_bytes()
        pos = 0
        for spec in group.get("weights", []):
            name, shape, dtype = spec.get("name"), spec.get("shape"), spec.get("dtype", "float32")
            if "quantization" in spec:
                raise ModelError(
                    f"{model_json}: weight {name!r} is quantised ({spec['quantization'].get('dtype')}); "
                    "only float32 weights are supported"
                )
            if dtype != "float32":
                raise ModelError(f"{model_json}: weight {name!r} has dtype {dtype}; only float32 is supported")
            n = math.prod(shape)
            if pos + 4 * n > len(data):
                raise ModelError(
                    f"{model_json}: weight group {g} ({', '.join(group.get('paths', []))}) has {len(data)} bytes; "
                    f"weight {name!r} {shape} needs bytes {pos}..{pos + 4 * n}"
                )
            out[name] = np.frombuffer(data, dtype="<f4", count=n, offset=pos).reshape(shape).copy()
            pos += 4 * n
        if pos != len(data):
            raise ModelError(f"{model_json}: weight group {g} has {len(data) - pos} bytes more than its manifest lists")
    return out


def _same_pad(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


class TfjsLayersModel(nn.Module):
    """A TF.js layers model as a torch module; ``forward`` takes and returns N×C×H×W tensors.

    Args:
        model_json: path of ``model.json``; the shards are read from beside it.
        custom: extra custom layer classes, ``{class_name: factory(config) -> fn(*inputs)}``.
    """

    def __init__(
        self,
        model_json: str | Path,
        custom: dict[str, Callable[[dict[str, Any]], Callable[..., torch.Tensor]]] | None = None,
    ) -> None:
        super().__init__()
        path = Path(model_json)
        self.source = str(path)
        if not path.is_file():
            raise ModelError(f"tfjs: file {path} not found")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ModelError(f"{path}: not a JSON file ({e})") from None
        if doc.get("format") not in ("layers-model", None) or "modelTopology" not in doc:
            raise ModelError(
                f"{path}: not a TF.js layers model (format {doc.get('format')!r}); graph models are not supported"
            )
        topo = doc["modelTopology"]
        topo = topo.get("model_config", topo)
        cls, cfg = topo.get("class_name"), topo.get("config", {})
        if cls == "Sequential":
            raise ModelError(f"{path}: Sequential models are not supported yet; only functional (Model) graphs")
        if cls not in ("Functional", "Model"):
            raise ModelError(f"{path}: unknown model class {cls!r}")
        weights = read_weights(path, doc.get("weightsManifest", []))
        used: set[str] = set()
        self.custom = dict(custom or {})
        self.params = nn.ParameterDict()
        self.nodes: list[tuple[str, str, dict[str, Any], list[str]]] = []  # (name, class, config, inputs)
        for layer in cfg.get("layers", []):
            name, lcls, lcfg = layer.get("name"), layer.get("class_name"), layer.get("config", {})
            inbound = layer.get("inbound_nodes", [])
            if len(inbound) > 1:
                raise ModelError(f"{path}: layer {name!r} is shared ({len(inbound)} call sites); not supported")
            inputs: list[str] = []
            for ref in inbound[0] if inbound else []:
                if not isinstance(ref, list) or len(ref) < 3 or ref[1] != 0 or ref[2] != 0:
                    raise ModelError(f"{path}: layer {name!r}: unsupported inbound node format {ref!r} (Keras 3?)")
                inputs.append(ref[0])
            self._check_layer(path, name, lcls, lcfg, weights, used)
            self.nodes.append((name, lcls, lcfg, inputs))
        extra = sorted(set(weights) - used)
        if extra:
            raise ModelError(f"{path}: weights no layer uses: {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
        names = {n for n, *_ in self.nodes}
        for name, _, _, inputs in self.nodes:
            for i in inputs:
                if i not in names:
                    raise ModelError(f"{path}: layer {name!r} reads unknown layer {i!r}")
        self.input_names = [ref[0] for ref in cfg.get("input_layers", [])]
        self.output_names = [ref[0] for ref in cfg.get("output_layers", [])]
        if len(self.input_names) != 1 or len(self.output_names) != 1:
            raise ModelError(f"{path}: expected one input and one output layer")

    def _key(self, name: str, what: str) -> str:
        return f"{name}__{what}".replace("/", "_").replace(".", "_")

    def _check_layer(
        self, path: Path, name: str, cls: str, cfg: dict[str, Any], weights: dict[str, np.ndarray], used: set[str]
    ) -> None:
        where = f"{path}: layer {name!r} ({cls})"
        if cls == "Conv2D":
            if cfg.get("data_format", "channels_last") != "channels_last":
                raise ModelError(f"{where}: data_format {cfg.get('data_format')!r} is not supported")
            if cfg.get("activation", "linear") not in _ACTIVATIONS:
                raise ModelError(f"{where}: unknown activation {cfg.get('activation')!r}")
            if cfg.get("padding") not in ("same", "valid"):
                raise ModelError(f"{where}: unknown padding {cfg.get('padding')!r}")
            kname, bname = f"{name}/kernel", f"{name}/bias"
            if kname not in weights:
                raise ModelError(f"{where}: weight {kname!r} is missing from the manifest")
            k = weights[kname]
            kh, kw = cfg["kernel_size"]
            groups = int(cfg.get("groups", 1))
            if k.ndim != 4 or k.shape[:2] != (kh, kw) or k.shape[3] != cfg["filters"]:
                raise ModelError(f"{where}: kernel shape {list(k.shape)} does not match its config")
            self.params[self._key(name, "kernel")] = nn.Parameter(
                torch.from_numpy(k).permute(3, 2, 0, 1).contiguous(), requires_grad=False
            )
            cfg["_groups"] = groups
            used.add(kname)
            if cfg.get("use_bias", True):
                if bname not in weights:
                    raise ModelError(f"{where}: weight {bname!r} is missing from the manifest")
                b = weights[bname]
                if b.shape != (cfg["filters"],):
                    raise ModelError(f"{where}: bias shape {list(b.shape)}, expected [{cfg['filters']}]")
                self.params[self._key(name, "bias")] = nn.Parameter(torch.from_numpy(b), requires_grad=False)
                used.add(bname)
        elif cls == "Activation":
            if cfg.get("activation") not in _ACTIVATIONS:
                raise ModelError(f"{where}: unknown activation {cfg.get('activation')!r}")
        elif cls == "UpSampling2D":
            if cfg.get("interpolation", "nearest") not in ("nearest", "bilinear"):
                raise ModelError(f"{where}: unsupported interpolation {cfg.get('interpolation')!r}")
        elif cls in ("InputLayer", "Add", "Multiply", "Concatenate", "MultiplyBeta") or cls in self.custom:
            pass
        elif cls.startswith("PixelShuffle"):
            if not (cfg.get("scale") or _scale_from_name(cls)):
                raise ModelError(f"{where}: no scale in its config or class name")
        else:
            raise ModelError(f"{where}: unsupported layer class {cls!r}")
        if cls != "Conv2D" and any(w.startswith(f"{name}/") for w in weights):
            raise ModelError(f"{where}: has weights, but this reader knows none for its class")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vals: dict[str, torch.Tensor] = {}
        for name, cls, cfg, inputs in self.nodes:
            a = [vals[i] for i in inputs]
            if cls == "InputLayer":
                vals[name] = x
            elif cls == "Conv2D":
                vals[name] = self._conv(name, cfg, a[0])
            elif cls == "Activation":
                vals[name] = _ACTIVATIONS[cfg["activation"]](a[0])
            elif cls == "Add":
                vals[name] = sum(a[1:], a[0])
            elif cls == "Multiply":
                out = a[0]
                for b in a[1:]:
                    out = out * b
                vals[name] = out
            elif cls == "Concatenate":
                axis = int(cfg.get("axis", -1))
                vals[name] = torch.cat(a, dim={-1: 1, 3: 1, 1: 2, 2: 3, -3: 2, -2: 3}[axis])
            elif cls == "UpSampling2D":
                sh, sw = cfg.get("size", [2, 2])
                mode = cfg.get("interpolation", "nearest")
                if mode == "nearest":
                    vals[name] = a[0].repeat_interleave(sh, dim=2).repeat_interleave(sw, dim=3)
                else:
                    vals[name] = F.interpolate(a[0], scale_factor=(sh, sw), mode="bilinear", align_corners=False)
            elif cls in self.custom:
                vals[name] = self.custom[cls](cfg)(*a)
            elif cls == "MultiplyBeta":
                vals[name] = a[0] * float(cfg.get("beta", 0.2))
            else:  # PixelShuffle<N>x: tf.depthToSpace(x, N, 'NHWC')
                vals[name] = depth_to_space_dcr(a[0], int(cfg.get("scale") or _scale_from_name(cls)))
        return vals[self.output_names[0]]

    def _conv(self, name: str, cfg: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        w = self.params[self._key(name, "kernel")]
        bkey = self._key(name, "bias")
        b = self.params.get(bkey)
        sh, sw = cfg.get("strides", [1, 1])
        dh, dw = cfg.get("dilation_rate", [1, 1])
        if cfg["padding"] == "same":
            pt, pb = _same_pad(x.shape[2], w.shape[2], sh, dh)
            pl, pr = _same_pad(x.shape[3], w.shape[3], sw, dw)
            if pt or pb or pl or pr:
                x = F.pad(x, (pl, pr, pt, pb))
        y = F.conv2d(x, w, b, stride=(sh, sw), dilation=(dh, dw), groups=cfg["_groups"])
        return _ACTIVATIONS[cfg.get("activation", "linear")](y)


def _scale_from_name(cls: str) -> int:
    digits = "".join(c for c in cls.removeprefix("PixelShuffle") if c.isdigit())
    return int(digits) if digits else 0
