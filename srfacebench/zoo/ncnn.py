"""Read an ncnn model (``.param`` text graph + ``.bin`` weights) into a torch module.

The result is an ordinary ``torch.nn.Module``: differentiable, movable to any device, with its
weights as parameters (float32, whatever precision the ``.bin`` stores). Nothing of ncnn itself is
imported. Every blob is a batched ``N×C×H×W`` tensor (an ncnn 3-D ``Mat`` c×h×w is one sample).

Supported layers: Input, Convolution, ConvolutionDepthWise, ReLU (and leaky), PReLU, Sigmoid,
Swish, TanH, Clip, BinaryOp, Eltwise, Split, Concat, Interp, PixelShuffle, Crop (offsets and
sizes), Padding, MemoryData (3-D), BatchNorm, Scale, Noop. Anything else — an unknown layer, an
unknown parameter value, a weight file shorter or longer than the graph needs, quantised (int8 or
table-quantised) weights — is a :class:`~srfacebench.errors.ModelError` naming the file, the line
and the layer.

Parameter and weight formats follow ncnn's ``paramdict.cpp`` and ``modelbin.cpp``: ``k=v`` pairs,
arrays as ``-233xx=n,v1,...``; weights tagged float16 (``0x01306B47``) or raw float32.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError

__all__ = ["NcnnGraph", "NcnnLayer", "parse_param"]

MAGIC = 7767517
_TAG_FP16, _TAG_INT8, _TAG_FP32_SCALED = 0x01306B47, 0x000D4B38, 0x0002C056


@dataclass
class NcnnLayer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, Any] = field(default_factory=dict)
    line: int = 0

    def get(self, key: int, default: Any) -> Any:
        return self.params.get(key, default)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def parse_param(text: str, where: str = "<param>") -> list[NcnnLayer]:
    """Parse an ncnn ``.param`` file's text; errors name ``where`` and the line."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [(i + 1, ln) for i, ln in enumerate(lines) if ln]
    if not lines or lines[0][1] != str(MAGIC):
        raise ModelError(f"{where}: not an ncnn param file (the first line must be the magic number {MAGIC})")
    if len(lines) < 2:
        raise ModelError(f"{where}: no layer and blob count on line 2")
    try:
        n_layers, _n_blobs = (int(t) for t in lines[1][1].split())
    except ValueError:
        raise ModelError(f"{where}:{lines[1][0]}: expected '<layer count> <blob count>'") from None
    layers: list[NcnnLayer] = []
    for lineno, ln in lines[2:]:
        tok = ln.split()
        if len(tok) < 4:
            raise ModelError(f"{where}:{lineno}: malformed layer line {ln!r}")
        try:
            nb, nt = int(tok[2]), int(tok[3])
        except ValueError:
            raise ModelError(f"{where}:{lineno}: malformed bottom/top counts in {ln!r}") from None
        if len(tok) < 4 + nb + nt:
            raise ModelError(f"{where}:{lineno}: layer {tok[1]!r} lists fewer blobs than it declares")
        bottoms, tops = tok[4 : 4 + nb], tok[4 + nb : 4 + nb + nt]
        params: dict[int, Any] = {}
        for kv in tok[4 + nb + nt :]:
            k, sep, v = kv.partition("=")
            try:
                key = int(k)
                if not sep:
                    raise ValueError
                if key <= -23300:
                    n, *vals = v.split(",")
                    arr = [_number(x) for x in vals]
                    if len(arr) != int(n):
                        raise ValueError
                    params[-key - 23300] = arr
                else:
                    params[key] = _number(v)
            except ValueError:
                raise ModelError(f"{where}:{lineno}: layer {tok[1]!r}: malformed parameter {kv!r}") from None
        layers.append(NcnnLayer(tok[0], tok[1], bottoms, tops, params, lineno))
    if len(layers) != n_layers:
        raise ModelError(f"{where}: line 2 declares {n_layers} layers but the file has {len(layers)}")
    return layers


class _Bin:
    """Sequential reader of an ncnn ``.bin`` file."""

    def __init__(self, data: bytes, where: str) -> None:
        self.data, self.pos, self.where = data, 0, where

    def _take(self, n: int, layer: NcnnLayer) -> bytes:
        if self.pos + n > len(self.data):
            raise ModelError(
                f"{self.where}: ends at byte {len(self.data)} but layer {layer.name!r} ({layer.type}, param line "
                f"{layer.line}) needs bytes {self.pos}..{self.pos + n}: the weights do not match the graph"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def raw(self, n: int, layer: NcnnLayer) -> np.ndarray:
        return np.frombuffer(self._take(4 * n, layer), dtype="<f4").astype(np.float32)

    def tagged(self, n: int, layer: NcnnLayer) -> np.ndarray:
        (tag,) = struct.unpack("<I", self._take(4, layer))
        if tag == _TAG_FP16:
            size = 2 * n
            buf = self._take((size + 3) // 4 * 4, layer)
            return np.frombuffer(buf[:size], dtype="<f2").astype(np.float32)
        if tag == 0 or tag == _TAG_FP32_SCALED:
            return self.raw(n, layer)
        kind = "int8" if tag == _TAG_INT8 else "table-quantised"
        raise ModelError(
            f"{self.where}: layer {layer.name!r} ({layer.type}, param line {layer.line}) stores {kind} weights "
            f"(tag 0x{tag:08X}); only float16 and float32 weights are supported"
        )


def _act(x: torch.Tensor, kind: int, p: list[float], layer: NcnnLayer) -> torch.Tensor:
    if kind == 0:
        return x
    if kind == 1:
        return F.relu(x)
    if kind == 2:
        return F.leaky_relu(x, p[0] if p else 0.0)
    if kind == 3:
        return x.clamp(p[0], p[1])
    if kind == 4:
        return torch.sigmoid(x)
    if kind == 5:
        return F.mish(x)
    if kind == 6:
        alpha, beta = (list(p) + [0.2, 0.5][len(p) :])[:2]
        return x * (x * alpha + beta).clamp(0, 1)
    raise ModelError(f"layer {layer.name!r} (param line {layer.line}): unknown activation type {kind}")


_BINARY = {
    0: torch.add,
    1: torch.sub,
    2: torch.mul,
    3: torch.div,
    4: torch.maximum,
    5: torch.minimum,
    6: torch.pow,
    7: lambda a, b: b - a,
    8: lambda a, b: b / a,
}


def _same_pad(size: int, k: int, s: int, d: int, upper: bool) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def _check_channels(x: torch.Tensor, expected: int, layer: NcnnLayer) -> None:
    if x.shape[1] != expected:
        raise ModelError(
            f"layer {layer.name!r} ({layer.type}, param line {layer.line}) expects {expected} input channels, "
            f"got {x.shape[1]}"
        )


class NcnnGraph(nn.Module):
    """An ncnn graph as a torch module: ``forward(x)`` takes N×C×H×W and returns the output blob.

    Args:
        param: path of the ``.param`` file.
        bin: path of the ``.bin`` file.
        output: the blob to return (default: ``"output"`` if the graph has one, else the last
            layer's first top).
    """

    def __init__(self, param: str | Path, bin: str | Path, output: str | None = None) -> None:
        super().__init__()
        param, bin = Path(param), Path(bin)
        for p in (param, bin):
            if not p.is_file():
                raise ModelError(f"ncnn: file {p} not found")
        self.source = (str(param), str(bin))
        self.layers = parse_param(param.read_text(encoding="utf-8", errors="replace"), str(param))
        self.weights = nn.ParameterDict()
        reader = _Bin(bin.read_bytes(), str(bin))
        produced: set[str] = set()
        self.inputs: list[str] = []
        for i, layer in enumerate(self.layers):
            for b in layer.bottoms:
                if b not in produced:
                    raise ModelError(
                        f"{param}:{layer.line}: layer {layer.name!r} reads blob {b!r} that no earlier layer produces"
                    )
            self._load_layer(i, layer, reader)
            if layer.type == "Input":
                self.inputs += layer.tops
            produced.update(layer.tops)
        if reader.pos != len(reader.data):
            raise ModelError(
                f"{bin}: {len(reader.data) - reader.pos} bytes left after the last layer's weights: "
                "the weights do not match the graph"
            )
        if len(self.inputs) != 1:
            raise ModelError(f"{param}: expected exactly one Input layer, found {len(self.inputs)}")
        if output is None:
            output = "output" if "output" in produced else self.layers[-1].tops[0]
        if output not in produced:
            raise ModelError(f"{param}: no blob named {output!r}")
        self.output = output

    def _param(self, i: int, key: str, arr: np.ndarray, shape: tuple[int, ...]) -> None:
        self.weights[f"l{i}_{key}"] = nn.Parameter(torch.from_numpy(arr.copy()).reshape(shape), requires_grad=False)

    def _load_layer(self, i: int, layer: NcnnLayer, rd: _Bin) -> None:
        t = layer.type
        if t in ("Convolution", "ConvolutionDepthWise"):
            if layer.get(8, 0):
                raise ModelError(f"{rd.where}: layer {layer.name!r} is int8-quantised (8=int8_scale_term)")
            if layer.get(19, 0):
                raise ModelError(f"layer {layer.name!r}: dynamic-weight convolutions are not supported")
            out, kw = int(layer.get(0, 0)), int(layer.get(1, 0))
            kh = int(layer.get(11, kw))
            size = int(layer.get(6, 0))
            group = int(layer.get(7, 1)) if t == "ConvolutionDepthWise" else 1
            if out <= 0 or kw <= 0 or size % (out * kh * kw):
                raise ModelError(
                    f"layer {layer.name!r} (param line {layer.line}): weight_data_size {size} does not divide into "
                    f"{out} outputs of {kh}×{kw}"
                )
            cin_g = size // (out * kh * kw)
            self._param(i, "w", rd.tagged(size, layer), (out, cin_g, kh, kw))
            if layer.get(5, 0):
                self._param(i, "b", rd.raw(out, layer), (out,))
            layer.params["_cin"] = cin_g * group
            layer.params["_group"] = group
        elif t == "PReLU":
            n = int(layer.get(0, 0)) or 1
            self._param(i, "slope", rd.raw(n, layer), (1, n, 1, 1) if n > 1 else (1,))
        elif t == "MemoryData":
            w, h, c = int(layer.get(0, 0)), int(layer.get(1, 0)), int(layer.get(2, 0))
            if int(layer.get(11, 0)) or not (w and h and c):
                raise ModelError(
                    f"layer {layer.name!r} (param line {layer.line}): only 3-D MemoryData (w, h, c) is supported"
                )
            self._param(i, "data", rd.raw(w * h * c, layer), (1, c, h, w))
        elif t == "BatchNorm":
            n = int(layer.get(0, 0))
            for key in ("slope", "mean", "var", "bias"):
                self._param(i, key, rd.raw(n, layer), (1, n, 1, 1))
        elif t == "Scale":
            n = int(layer.get(0, 0))
            if n == -233:
                raise ModelError(f"layer {layer.name!r}: Scale with a second input blob is not supported")
            self._param(i, "scale", rd.raw(n, layer), (1, n, 1, 1))
            if layer.get(1, 0):
                self._param(i, "bias", rd.raw(n, layer), (1, n, 1, 1))
        elif t not in _NO_WEIGHTS:
            raise ModelError(
                f"{self.source[0]}:{layer.line}: unsupported ncnn layer type {t!r} (layer {layer.name!r}); "
                f"supported: {', '.join(sorted(_NO_WEIGHTS | _WEIGHTED))}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blobs: dict[str, torch.Tensor] = {self.inputs[0]: x}
        for i, layer in enumerate(self.layers):
            if layer.type == "Input":
                continue
            args = [blobs[b] for b in layer.bottoms]
            out = self._run(i, layer, args)
            if layer.type == "Split":
                for top in layer.tops:
                    blobs[top] = out
            else:
                blobs[layer.tops[0]] = out
        return blobs[self.output]

    def _w(self, i: int, key: str) -> torch.Tensor | None:
        return self.weights.get(f"l{i}_{key}")

    def _run(self, i: int, layer: NcnnLayer, a: list[torch.Tensor]) -> torch.Tensor:
        t, g = layer.type, layer.get
        if t in ("Split", "Noop"):
            return a[0]
        if t in ("Convolution", "ConvolutionDepthWise"):
            x = a[0]
            _check_channels(x, g("_cin", 0), layer)
            w = self._w(i, "w")
            assert w is not None
            kh, kw = w.shape[-2:]
            dw = int(g(2, 1))
            dh, sw = int(g(12, dw)), int(g(3, 1))
            sh = int(g(13, sw))
            pl = int(g(4, 0))
            pr, pt = int(g(15, pl)), int(g(14, pl))
            pb = int(g(16, pt))
            if pl in (-233, -234):
                pt, pb = _same_pad(x.shape[2], kh, sh, dh, pl == -233)
                pl, pr = _same_pad(x.shape[3], kw, sw, dw, pl == -233)
            elif min(pl, pr, pt, pb) < 0:
                raise ModelError(f"layer {layer.name!r} (param line {layer.line}): unsupported padding {pl}")
            if pl or pr or pt or pb:
                x = F.pad(x, (pl, pr, pt, pb), value=float(g(18, 0.0)))
            y = F.conv2d(x, w, self._w(i, "b"), stride=(sh, sw), dilation=(dh, dw), groups=g("_group", 1))
            return _act(y, int(g(9, 0)), list(g(10, [])), layer)
        if t == "ReLU":
            slope = float(g(0, 0.0))
            return F.leaky_relu(a[0], slope) if slope else F.relu(a[0])
        if t == "PReLU":
            slope = self._w(i, "slope")
            assert slope is not None
            return torch.where(a[0] >= 0, a[0], a[0] * slope)
        if t == "Sigmoid":
            return torch.sigmoid(a[0])
        if t == "Swish":
            return a[0] * torch.sigmoid(a[0])
        if t == "TanH":
            return torch.tanh(a[0])
        if t == "Clip":
            return a[0].clamp(float(g(0, -3.4e38)), float(g(1, 3.4e38)))
        if t == "MemoryData":
            d = self._w(i, "data")
            assert d is not None
            return d
        if t == "BinaryOp":
            op = int(g(0, 0))
            if op not in _BINARY:
                raise ModelError(f"layer {layer.name!r} (param line {layer.line}): unsupported BinaryOp type {op}")
            if int(g(1, 0)):
                return _BINARY[op](a[0], torch.tensor(float(g(2, 0.0)), dtype=a[0].dtype, device=a[0].device))
            if len(a) != 2:
                raise ModelError(f"layer {layer.name!r} (param line {layer.line}): BinaryOp needs two inputs")
            return _BINARY[op](a[0], a[1])
        if t == "Eltwise":
            op, coeffs = int(g(0, 1)), list(g(1, []))
            if op == 0:
                out = a[0]
                for b in a[1:]:
                    out = out * b
                return out
            if op == 1:
                if coeffs and len(coeffs) != len(a):
                    raise ModelError(f"layer {layer.name!r}: {len(coeffs)} coefficients for {len(a)} inputs")
                return sum((b * c if coeffs else b for b, c in zip(a, coeffs or [1.0] * len(a), strict=True)))
            if op == 2:
                out = a[0]
                for b in a[1:]:
                    out = torch.maximum(out, b)
                return out
            raise ModelError(f"layer {layer.name!r} (param line {layer.line}): unsupported Eltwise type {op}")
        if t == "Concat":
            axis = int(g(0, 0))
            return torch.cat(a, dim=(axis % 3) + 1)
        if t == "Interp":
            kind = int(g(0, 0))
            modes = {1: "nearest", 2: "bilinear", 3: "bicubic"}
            if kind not in modes:
                raise ModelError(f"layer {layer.name!r} (param line {layer.line}): unsupported Interp type {kind}")
            h, w = a[0].shape[-2:]
            oh, ow = int(g(3, 0)), int(g(4, 0))
            if not (oh and ow):
                oh, ow = int(h * float(g(1, 1.0))), int(w * float(g(2, 1.0)))
            if kind == 1:
                return F.interpolate(a[0], size=(oh, ow), mode="nearest")
            return F.interpolate(a[0], size=(oh, ow), mode=modes[kind], align_corners=bool(int(g(6, 0))))
        if t == "PixelShuffle":
            r, mode = int(g(0, 1)), int(g(1, 0))
            if mode == 0:
                return F.pixel_shuffle(a[0], r)
            return depth_to_space_dcr(a[0], r)
        if t == "Crop":
            x = a[0]
            if any(k in layer.params for k in (9, 10, 11)):
                raise ModelError(f"layer {layer.name!r} (param line {layer.line}): Crop with starts/ends arrays")
            woff, hoff, coff = int(g(0, 0)), int(g(1, 0)), int(g(2, 0))
            ow, oh, oc = int(g(3, 0)), int(g(4, 0)), int(g(5, 0))
            w2, h2, c2 = int(g(6, 0)), int(g(7, 0)), int(g(8, 0))
            c, h, w = x.shape[1:]
            ow = ow if ow > 0 else w - woff - w2
            oh = oh if oh > 0 else h - hoff - h2
            oc = oc if oc > 0 else c - coff - c2
            return x[:, coff : coff + oc, hoff : hoff + oh, woff : woff + ow]
        if t == "Padding":
            top, bottom, left, right = (int(g(k, 0)) for k in range(4))
            kind = int(g(4, 0))
            mode = {0: "constant", 1: "replicate", 2: "reflect"}.get(kind)
            if mode is None or int(g(7, 0)) or int(g(8, 0)):
                raise ModelError(f"layer {layer.name!r} (param line {layer.line}): unsupported Padding settings")
            if mode == "constant":
                return F.pad(a[0], (left, right, top, bottom), value=float(g(5, 0.0)))
            return F.pad(a[0], (left, right, top, bottom), mode=mode)
        if t == "BatchNorm":
            eps = float(g(1, 0.0))
            s, m, v, b = (self._w(i, k) for k in ("slope", "mean", "var", "bias"))
            return (a[0] - m) / torch.sqrt(v + eps) * s + b  # type: ignore[operator]
        if t == "Scale":
            s, b = self._w(i, "scale"), self._w(i, "bias")
            return a[0] * s + b if b is not None else a[0] * s  # type: ignore[operator]
        raise ModelError(f"layer {layer.name!r}: unsupported ncnn layer type {t!r}")  # pragma: no cover


def depth_to_space_dcr(x: torch.Tensor, r: int) -> torch.Tensor:
    """Depth-to-space in "DCR" order (TensorFlow's ``depth_to_space``, ONNX's default): channel
    ``(i·r + j)·C + c`` goes to pixel ``(h·r + i, w·r + j)`` of channel ``c`` — unlike torch's
    ``pixel_shuffle``, which reads channel ``c·r² + i·r + j``."""
    n, crr, h, w = x.shape
    c = crr // (r * r)
    return x.view(n, r, r, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c, h * r, w * r)


_WEIGHTED = {"Convolution", "ConvolutionDepthWise", "PReLU", "MemoryData", "BatchNorm", "Scale"}
_NO_WEIGHTS = {
    "Input", "ReLU", "Sigmoid", "Swish", "TanH", "Clip", "BinaryOp", "Eltwise", "Split", "Concat", "Interp",
    "PixelShuffle", "Crop", "Padding", "Noop",
}  # fmt: skip
