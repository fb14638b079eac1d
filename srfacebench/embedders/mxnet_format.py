"""MXNet checkpoints read with numpy (no MXNet, no pickle) and run as a torch module.

Two files make a checkpoint:

- ``*-symbol.json``: the graph. ``nodes`` in topological order, each with ``op``, ``name``,
  ``attrs`` (strings) and ``inputs`` (``[node, output, version]``); ``heads`` names the output.
  ``op == "null"`` nodes are the input ``data`` or parameters.
- ``*-NNNN.params``: MXNet's NDArray list: ``uint64`` magic ``0x112``, ``uint64`` reserved,
  ``uint64`` count, then each array (``uint32`` magic ``0xF993FAC9`` (v2: then ``int32`` storage
  type, 0 = dense) or ``0xF993FAC8`` (v1), ``uint32`` ndim, ``int64`` dims, ``int32`` device type
  and id, ``int32`` dtype flag, raw little-endian data), then ``uint64`` count and the names
  (``uint64`` length + bytes), e.g. ``arg:conv1_weight``, ``aux:bn1_moving_mean``.

:class:`MXNetGraph` interprets the graph with torch ops; it is differentiable and its BatchNorm
layers are real ``nn.BatchNorm`` modules (eval mode: moving statistics; train mode: batch
statistics, moving averages updated with MXNet's momentum). An operator it does not know, or a
parameter missing from or mis-shaped in the ``.params`` file, is an error naming the node.
"""

from __future__ import annotations

import ast
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError

__all__ = ["MXNetGraph", "read_ndarray_list", "read_symbol"]

_LIST_MAGIC = 0x112
_V2_MAGIC = 0xF993FAC9
_V1_MAGIC = 0xF993FAC8
_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8, 6: np.int64}


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelError(f"{self.path}: truncated MXNet params file (at byte {self.pos})")
        out = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return out if len(out) > 1 else out[0]

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ModelError(f"{self.path}: truncated MXNet params file (at byte {self.pos})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def read_ndarray_list(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an MXNet ``.params`` file by name (``arg:``/``aux:`` prefixes kept)."""
    path = Path(path)
    r = _Reader(path.read_bytes(), path)
    magic, _reserved, count = r.take("<QQQ")
    if magic != _LIST_MAGIC:
        raise ModelError(f"{path}: not an MXNet NDArray list (magic {magic:#x}, expected {_LIST_MAGIC:#x})")
    arrays = []
    for i in range(count):
        magic = r.take("<I")
        if magic == _V2_MAGIC:
            stype = r.take("<i")
            if stype != 0:
                raise ModelError(f"{path}: array {i} has sparse storage type {stype}; only dense arrays are read")
        elif magic != _V1_MAGIC:
            raise ModelError(f"{path}: array {i} has unknown NDArray magic {magic:#x}")
        ndim = r.take("<I")
        shape = tuple(r.take(f"<{ndim}q")) if ndim > 1 else ((r.take("<q"),) if ndim == 1 else ())
        if ndim == 0:
            arrays.append(np.zeros(0, np.float32))
            continue
        r.take("<ii")  # device type and id
        flag = r.take("<i")
        if flag not in _DTYPES:
            raise ModelError(f"{path}: array {i} has unknown dtype flag {flag}")
        dtype = np.dtype(_DTYPES[flag]).newbyteorder("<")
        n = int(np.prod(shape))
        arrays.append(
            np.frombuffer(r.raw(n * dtype.itemsize), dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
        )
    n_names = r.take("<Q")
    if n_names != count:
        raise ModelError(f"{path}: {count} arrays but {n_names} names")
    names = []
    for _ in range(n_names):
        length = r.take("<Q")
        names.append(r.raw(length).decode("utf-8"))
    if r.pos != len(r.data):
        raise ModelError(f"{path}: {len(r.data) - r.pos} unexpected bytes after the names")
    return dict(zip(names, arrays, strict=True))


def read_symbol(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        graph = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not a readable MXNet symbol JSON ({e})") from None
    if not isinstance(graph, dict) or "nodes" not in graph or "heads" not in graph:
        raise ModelError(f"{path}: not an MXNet symbol JSON (no 'nodes'/'heads')")
    return graph


def _tuple(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if text is None:
        return default
    v = ast.literal_eval(text)
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * len(default)


def _bool(text: str | None, default: bool) -> bool:
    return default if text is None else text.strip().lower() in ("true", "1")


_SCALAR_OPS = {
    "_maximum_scalar": lambda x, s: torch.clamp(x, min=s),
    "_minimum_scalar": lambda x, s: torch.clamp(x, max=s),
    "_minus_scalar": lambda x, s: x - s,
    "_plus_scalar": lambda x, s: x + s,
    "_mul_scalar": lambda x, s: x * s,
    "_div_scalar": lambda x, s: x / s,
}
_ACTIVATIONS = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class MXNetGraph(nn.Module):
    """A torch module that runs an MXNet symbol graph with the weights of a ``.params`` file."""

    SUPPORTED = (
        "null", "Convolution", "BatchNorm", "FullyConnected", "Flatten", "elemwise_add", "Activation",
        *_SCALAR_OPS,
    )  # fmt: skip

    def __init__(self, symbol: str | Path, params: str | Path) -> None:
        super().__init__()
        graph = read_symbol(symbol)
        weights = read_ndarray_list(params)
        self.layers = nn.ModuleDict()
        self.steps: list[tuple[str, str, dict[str, str], list[int]]] = []
        nodes = graph["nodes"]
        used: set[str] = set()

        def param(node: dict, idx: int, role: str) -> np.ndarray:
            src = nodes[node["inputs"][idx][0]]
            for key in (f"arg:{src['name']}", f"aux:{src['name']}"):
                if key in weights:
                    used.add(key)
                    return weights[key]
            raise ModelError(
                f"{params}: node {node['name']!r} ({node['op']}) needs {role} {src['name']!r}, not in the file"
            )

        def check(node: dict, arr: np.ndarray, shape: tuple[int, ...], role: str) -> torch.Tensor:
            if tuple(arr.shape) != tuple(shape):
                raise ModelError(
                    f"{params}: node {node['name']!r}: {role} has shape {tuple(arr.shape)}, "
                    f"the graph needs {tuple(shape)}"
                )
            return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))

        self.data_index = -1
        for i, node in enumerate(nodes):
            op, name, attrs = node["op"], node["name"], node.get("attrs", node.get("param", {})) or {}
            inputs = [inp[0] for inp in node.get("inputs", [])]
            if op not in self.SUPPORTED:
                raise ModelError(f"{symbol}: node {name!r} uses operator {op!r}, which this reader does not support")
            key = f"n{i}"
            if op == "null":
                if name == "data":
                    self.data_index = i
                continue
            if op == "Convolution":
                w = param(node, 1, "weight")
                groups = int(attrs.get("num_group", 1))
                kernel = _tuple(attrs.get("kernel"), (1, 1))
                out_ch = int(attrs["num_filter"])
                conv = nn.Conv2d(
                    w.shape[1] * groups, out_ch, kernel, stride=_tuple(attrs.get("stride"), (1, 1)),
                    padding=_tuple(attrs.get("pad"), (0, 0)), dilation=_tuple(attrs.get("dilate"), (1, 1)),
                    groups=groups, bias=not _bool(attrs.get("no_bias"), False),
                )  # fmt: skip
                conv.weight.data = check(node, w, tuple(conv.weight.shape), "weight")
                if conv.bias is not None:
                    conv.bias.data = check(node, param(node, 2, "bias"), (out_ch,), "bias")
                self.layers[key] = conv
            elif op == "BatchNorm":
                gamma = param(node, 1, "gamma")
                c = gamma.shape[0]
                bn = nn.BatchNorm1d(
                    c, eps=float(attrs.get("eps", 1e-3)), momentum=1 - float(attrs.get("momentum", 0.9))
                )
                if _bool(attrs.get("fix_gamma"), True):
                    gamma = np.ones_like(gamma)
                bn.weight.data = check(node, gamma, (c,), "gamma")
                bn.bias.data = check(node, param(node, 2, "beta"), (c,), "beta")
                bn.running_mean.data = check(node, param(node, 3, "moving_mean"), (c,), "moving_mean")
                bn.running_var.data = check(node, param(node, 4, "moving_var"), (c,), "moving_var")
                if _bool(attrs.get("use_global_stats"), False):
                    bn.track_running_stats = True
                self.layers[key] = bn
            elif op == "FullyConnected":
                w = param(node, 1, "weight")
                hidden = int(attrs["num_hidden"])
                fc = nn.Linear(w.shape[1], hidden, bias=not _bool(attrs.get("no_bias"), False))
                fc.weight.data = check(node, w, (hidden, w.shape[1]), "weight")
                if fc.bias is not None:
                    fc.bias.data = check(node, param(node, 2, "bias"), (hidden,), "bias")
                self.layers[key] = fc
            self.steps.append((op, key, {k: str(v) for k, v in attrs.items()}, inputs))
        if self.data_index < 0:
            raise ModelError(f"{symbol}: the graph has no 'data' input")
        unused = sorted(set(weights) - used)
        if unused:
            raise ModelError(f"{params}: parameters the graph does not use (a mismatched checkpoint?): {unused[:5]}")
        self.head = graph["heads"][0][0]
        # folding is measured slower on CPU (390 vs 261 ms per 64 MobileFace chips): off by default
        self.fold_batchnorm = False
        self._foldable = self._find_foldable()

    def _find_foldable(self) -> dict[str, str]:
        """BatchNorm key -> the key of the Convolution/FullyConnected whose output only it reads."""
        readers: dict[int, int] = {}
        for _, _, _, inputs in self.steps:
            for j in inputs:
                readers[j] = readers.get(j, 0) + 1
        ops = {int(key[1:]): (op, key) for op, key, _, _ in self.steps}
        out = {}
        for op, key, _, inputs in self.steps:
            src = inputs[0]
            producer = ops.get(src, ("", ""))
            read_once = readers.get(src) == 1 and src != self.head  # the graph output itself stays
            if op == "BatchNorm" and producer[0] in ("Convolution", "FullyConnected") and read_once:
                out[key] = producer[1]
        return out

    def folded(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Producer key -> (weight, bias) with its BatchNorm's moving statistics folded in:
        w·γ/√(σ²+ε) per output channel, (b − μ)·γ/√(σ²+ε) + β. Computed on every call (~1 ms):
        a cache would have to notice the statistics a train-mode pass updates in place, which
        bump no version counter."""
        out = {}
        with torch.no_grad():
            for bn_key, key in self._foldable.items():
                bn, layer = self.layers[bn_key], self.layers[key]
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                w = layer.weight * scale.view(-1, *([1] * (layer.weight.ndim - 1)))
                b = layer.bias if layer.bias is not None else torch.zeros_like(bn.running_mean)
                out[key] = (w.contiguous(), (b - bn.running_mean) * scale + bn.bias)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The graph's output. With ``fold_batchnorm`` (off by default: slower on this project's
        CPU, docs/benchmarks.md) every BatchNorm that alone reads a convolution or fully-connected
        layer is folded into it in eval mode (:meth:`folded`): the same function, one pass fewer
        over each feature map; in train mode, always as written."""
        fold = {} if self.training or not self.fold_batchnorm else self.folded()
        skip = {bn for bn, key in self._foldable.items() if key in fold}
        values: dict[int, torch.Tensor] = {self.data_index: x}
        for op, key, attrs, inputs in self.steps:
            i = int(key[1:])
            a = values[inputs[0]]
            if key in fold:
                w, b = fold[key]
                layer = self.layers[key]
                if op == "Convolution":
                    y = F.conv2d(a, w, b, layer.stride, layer.padding, layer.dilation, layer.groups)
                else:
                    y = F.linear(a.flatten(1) if a.ndim > 2 else a, w, b)
            elif key in skip:
                y = a
            elif op == "Convolution" or op == "FullyConnected":
                y = self.layers[key](a.flatten(1) if op == "FullyConnected" and a.ndim > 2 else a)
            elif op == "BatchNorm":
                bn = self.layers[key]
                y = F.batch_norm(
                    a, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                    self.training, bn.momentum or 0.0, bn.eps,
                )  # fmt: skip
            elif op == "elemwise_add":
                y = a + values[inputs[1]]
            elif op == "Flatten":
                y = a.flatten(1)
            elif op == "Activation":
                y = _ACTIVATIONS[attrs.get("act_type", "relu")](a)
            else:
                y = _SCALAR_OPS[op](a, float(attrs["scalar"]))
            values[i] = y
        return values[self.head]
