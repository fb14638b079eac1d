"""Reader for dlib's binary DNN serialisation format (``*.dat`` written by ``dlib::serialize``).

Only numpy is used; dlib itself is not needed. The format (verified on the whole of
``dlib_face_recognition_resnet_model_v1.dat``):

* integer: one control byte (bit 0x80 = negative, low 4 bits = number of bytes 1-8), then the
  magnitude, little-endian; a control byte with 0 bytes is the value 0;
* bool: ASCII ``'1'`` or ``'0'``; string: integer length, then the bytes;
* float scalar: mantissa (integer) then exponent (integer), value = m * 2**e;
* tensor: integer version 2, four integer dims (N, K, R, C), raw little-endian float32;
* alias_tensor: integer version 1, four integer dims (no data);
* every ``add_layer`` writes its version, its sub-network, its own layer details, three bools and
  three (empty) tensors; tag and skip layers write a version and their sub-network only; the
  ``add_layer`` directly over the input layer (version 3) then adds its sample expansion factor.

So the file runs from the loss layer inward to the input layer, then holds every layer's details
in forward order. :func:`read_dlib_net` returns that forward-ordered list of layers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DlibFormatError", "DlibLayer", "DlibNet", "read_dlib_net", "save_dlib_net_safetensors"]


class DlibFormatError(ValueError):
    """The file is not a dlib DNN file of a kind this reader understands."""


@dataclass
class DlibLayer:
    """One computational layer, in forward order."""

    kind: str  # e.g. "con_4", "affine_", "relu_", "add_prev_", "avg_pool_2", "fc_2"
    params: np.ndarray | None = None  # flat float32 parameter tensor, if any
    param_dims: tuple[int, int, int, int] | None = None
    ints: dict[str, int] = field(default_factory=dict)


@dataclass
class DlibNet:
    loss: str
    input_kind: str
    input_size: tuple[int, int]
    channel_means: tuple[float, float, float]
    layers: list[DlibLayer]


class _Reader:
    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def fail(self, msg: str) -> DlibFormatError:
        return DlibFormatError(f"{self.path}: byte {self.pos}: {msg}")

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        ctrl = self.data[self.pos]
        n = ctrl & 0x0F
        if n > 8 or ctrl & 0x70:
            raise self.fail(f"bad integer control byte {ctrl:#x}")
        raw = self.data[self.pos + 1 : self.pos + 1 + n]
        if len(raw) != n:
            raise self.fail("unexpected end of file in an integer")
        self.pos += 1 + n
        value = int.from_bytes(raw, "little") if n else 0
        return -value if ctrl & 0x80 else value

    def peek_int(self) -> int:
        pos = self.pos
        try:
            return self.int()
        finally:
            self.pos = pos

    def bool(self) -> bool:
        c = self.data[self.pos : self.pos + 1]
        if c not in (b"0", b"1"):
            raise self.fail(f"expected a bool ('0'/'1'), found {c!r}")
        self.pos += 1
        return c == b"1"

    def string(self) -> str:
        n = self.int()
        if n < 0 or n > 256 or self.pos + n > len(self.data):
            raise self.fail(f"implausible string length {n}")
        s = self.data[self.pos : self.pos + n]
        self.pos += n
        try:
            return s.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"string is not ASCII: {s!r}") from None

    def float(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        return math.ldexp(float(mantissa), exponent)

    def tensor(self) -> tuple[tuple[int, int, int, int], np.ndarray]:
        version = self.int()
        if version != 2:
            raise self.fail(f"expected tensor version 2, found {version}")
        dims = (self.int(), self.int(), self.int(), self.int())
        if any(d < 0 for d in dims):
            raise self.fail(f"negative tensor dims {dims}")
        count = dims[0] * dims[1] * dims[2] * dims[3]
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail(f"tensor of {count} floats runs past the end of the file")
        arr = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).copy()
        self.pos = end
        return dims, arr

    def alias_tensor(self) -> tuple[int, int, int, int]:
        version = self.int()
        if version != 1:
            raise self.fail(f"expected alias_tensor version 1, found {version}")
        return (self.int(), self.int(), self.int(), self.int())


def _read_details(r: _Reader) -> DlibLayer:
    kind = r.string()
    layer = DlibLayer(kind=kind)
    if kind == "con_4":
        layer.param_dims, layer.params = r.tensor()
        for key in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            layer.ints[key] = r.int()
        r.alias_tensor()  # filters view
        r.alias_tensor()  # biases view
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.float()
    elif kind == "affine_":
        layer.param_dims, layer.params = r.tensor()
        r.alias_tensor()  # gamma view
        r.alias_tensor()  # beta view
        layer.ints["mode"] = r.int()
    elif kind in ("max_pool_2", "avg_pool_2"):
        for key in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            layer.ints[key] = r.int()
    elif kind == "fc_2":
        layer.ints["num_outputs"] = r.int()
        layer.ints["num_inputs"] = r.int()
        layer.param_dims, layer.params = r.tensor()
        r.alias_tensor()  # weights view
        r.alias_tensor()  # biases view
        layer.ints["bias_mode"] = r.int()
        for _ in range(4):
            r.float()
    elif kind in ("relu_", "add_prev_"):
        pass
    else:
        raise r.fail(f"unsupported dlib layer {kind!r}")
    # add_layer trailer: three bools, then x_grad, cached_output, params_grad tensors.
    for _ in range(3):
        r.bool()
    for _ in range(3):
        r.tensor()
    return layer


def save_dlib_net_safetensors(net: DlibNet, path: str | Path, dtype: str = "float16") -> None:
    """Write a parsed network as safetensors: each layer's parameters (``layer00012``) in ``dtype``,
    the structure (kinds, dims, integers, input size and means) as JSON metadata. Half the size of
    the ``.dat`` in float16 (for shipping to a device); :func:`read_dlib_net` reads it back."""
    from safetensors.numpy import save_file

    tensors = {
        f"layer{i:05d}": layer.params.astype(dtype) for i, layer in enumerate(net.layers) if layer.params is not None
    }
    meta = {
        "loss": net.loss, "input_kind": net.input_kind, "input_size": list(net.input_size),
        "channel_means": list(net.channel_means),
        "layers": [{"kind": la.kind, "param_dims": list(la.param_dims) if la.param_dims else None, "ints": la.ints}
                   for la in net.layers],
    }  # fmt: skip
    save_file(tensors, str(path), metadata={"srfacebench.dlib_net": json.dumps(meta)})


def _read_dlib_safetensors(path: Path) -> DlibNet:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        raw = (f.metadata() or {}).get("srfacebench.dlib_net")
        if raw is None:
            raise DlibFormatError(f"{path}: not a dlib network saved by srfacebench (no srfacebench.dlib_net metadata)")
        meta = json.loads(raw)
        layers = []
        for i, la in enumerate(meta["layers"]):
            key = f"layer{i:05d}"
            params = f.get_tensor(key).astype(np.float32) if key in f.keys() else None  # noqa: SIM118
            dims = tuple(la["param_dims"]) if la["param_dims"] else None
            layers.append(DlibLayer(kind=la["kind"], params=params, param_dims=dims, ints=dict(la["ints"])))  # type: ignore[arg-type]
    return DlibNet(loss=meta["loss"], input_kind=meta["input_kind"], input_size=tuple(meta["input_size"]),  # type: ignore[arg-type]
                   channel_means=tuple(meta["channel_means"]), layers=layers)  # type: ignore[arg-type]  # fmt: skip


def read_dlib_net(path: str | Path) -> DlibNet:
    """Parse a dlib metric-learning network file into its forward-ordered layers.

    Args:
        path: the ``.dat`` file (e.g. ``dlib_face_recognition_resnet_model_v1.dat``), or a
            ``.safetensors`` written by :func:`save_dlib_net_safetensors`.

    Raises:
        DlibFormatError: naming the file and byte offset where the content is not as expected.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        return _read_dlib_safetensors(path)
    r = _Reader(path.read_bytes(), str(path))
    r.int()  # add_loss_layer version
    loss = r.string()
    if loss != "loss_metric_2":
        raise r.fail(f"expected a loss_metric_2 network, found {loss!r}")
    r.float()  # margin
    r.float()  # distance threshold
    # Versions of the nested add_layer / tag / skip wrappers, down to the input layer.
    wrappers = 0
    while True:
        save = r.pos
        n = r.peek_int()
        r.int()
        if n == len("input_rgb_image_sized") and r.data[r.pos : r.pos + n] == b"input_rgb_image_sized":
            r.pos = save
            break
        if n not in (1, 2, 3):
            raise r.fail(f"unexpected layer wrapper version {n}")
        wrappers += 1
        if wrappers > 10_000:
            raise r.fail("no input layer found")
    input_kind = r.string()
    means = (r.float(), r.float(), r.float())
    size = (r.int(), r.int())
    layers = []
    while r.pos < len(r.data):
        layers.append(_read_details(r))
        if len(layers) == 1:
            # The add_layer that wraps the input layer (version 3) also stores its
            # sample expansion factor after its trailer.
            factor = r.int()
            if factor != 1:
                raise r.fail(f"unsupported sample expansion factor {factor}")
    return DlibNet(loss=loss, input_kind=input_kind, input_size=size, channel_means=means, layers=layers)
