"""The ncnn and TF.js readers on small hand-made graphs, checked against torch ops written here
independently, and every malformed-file case they must refuse with a message naming the culprit."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from srfacebench.errors import ModelError
from srfacebench.zoo.ncnn import NcnnGraph, depth_to_space_dcr, parse_param
from srfacebench.zoo.tfjs import TfjsLayersModel

FP16_TAG = struct.pack("<I", 0x01306B47)


def fp16_blob(a: np.ndarray) -> bytes:
    raw = a.astype("<f2").tobytes()
    return FP16_TAG + raw + b"\0" * ((-len(raw)) % 4)


def fp32_blob(a: np.ndarray, tagged: bool = True) -> bytes:
    return (struct.pack("<I", 0) if tagged else b"") + a.astype("<f4").tobytes()


# --- ncnn ------------------------------------------------------------------------------------

PARAM = """7767517
11 14
Input            in        0 1 data
Convolution      conv1     1 1 data c1 0=8 1=3 4=1 5=1 6=216
ReLU             relu      1 1 c1 r1 0=0.1
Split            split     1 2 r1 s0 s1
Convolution      conv2     1 1 s0 c2 0=8 1=1 5=0 6=64 9=4
BinaryOp         mul       2 1 s1 c2 m 0=2
BinaryOp         add       1 1 m a 0=0 1=1 2=0.5
Eltwise          elt       2 1 a m e 0=1 -23301=2,0.5,2.0
Concat           cat       2 1 e a cc 0=0
Convolution      conv3     1 1 cc c3 0=12 1=3 4=-233 5=1 6=1728
PixelShuffle     output    1 1 c3 output 0=2
"""


def _ncnn_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float16).astype(np.float32),
        "b1": rng.normal(0, 0.1, 8).astype(np.float32),
        "w2": rng.normal(0, 0.3, (8, 8, 1, 1)).astype(np.float16).astype(np.float32),
        "w3": rng.normal(0, 0.1, (12, 16, 3, 3)).astype(np.float32),
        "b3": rng.normal(0, 0.1, 12).astype(np.float32),
    }


def _write_ncnn(tmp_path, param=PARAM, blob=None):
    w = _ncnn_weights()
    if blob is None:
        blob = fp16_blob(w["w1"]) + fp32_blob(w["b1"], False) + fp16_blob(w["w2"]) + fp32_blob(w["w3"])
        blob += fp32_blob(w["b3"], False)
    (tmp_path / "m.param").write_text(param)
    (tmp_path / "m.bin").write_bytes(blob)
    return tmp_path / "m.param", tmp_path / "m.bin", w


def test_ncnn_graph_matches_the_same_graph_written_in_torch(tmp_path):
    param, bin_, w = _write_ncnn(tmp_path)
    net = NcnnGraph(param, bin_)
    x = torch.rand(2, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    t = {k: torch.from_numpy(v) for k, v in w.items()}
    c1 = F.conv2d(x, t["w1"], t["b1"], padding=1)
    r1 = torch.where(c1 > 0, c1, 0.1 * c1)
    c2 = torch.sigmoid(F.conv2d(r1, t["w2"]))
    m = r1 * c2
    a = m + 0.5
    e = 0.5 * a + 2.0 * m
    cc = torch.cat([e, a], 1)
    c3 = F.conv2d(cc, t["w3"], t["b3"], padding=1)  # SAME_UPPER with a 3x3 kernel, stride 1: 1 each side
    expected = F.pixel_shuffle(c3, 2)
    got = net(x)
    assert got.shape == (2, 3, 14, 18)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_ncnn_graph_is_differentiable_and_movable(tmp_path):
    param, bin_, _ = _write_ncnn(tmp_path)
    net = NcnnGraph(param, bin_)
    for p in net.parameters():
        p.requires_grad_(True)
    x = torch.rand(1, 3, 5, 5)
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert net.to(torch.float64)(x.double()).dtype == torch.float64


def test_param_arrays_and_numbers_are_parsed():
    layers = parse_param("7767517\n1 1\nEltwise e 0 1 x 0=1 -23301=2,2.000000e-01,1.0 2=3\n")
    assert layers[0].params == {0: 1, 1: [0.2, 1.0], 2: 3}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p, b: ("1234\n" + p.split("\n", 1)[1], b), "magic"),
        (lambda p, b: (p.replace("ReLU             relu", "Mystery r"), b), "unsupported ncnn layer type .Mystery."),
        (lambda p, b: (p, b[:-8]), "needs bytes"),
        (lambda p, b: (p, b + b"\0" * 8), "bytes left"),
        (lambda p, b: (p.replace("6=216", "6=215"), b), "weight_data_size"),
        (lambda p, b: (p.replace("11 14", "12 14"), b), "declares 12 layers"),
        (lambda p, b: (p.replace("1 1 s0 c2", "1 1 nowhere c2"), b), "'nowhere'"),
        (lambda p, b: (p, struct.pack("<I", 0x000D4B38) + b[4:]), "int8"),
        (lambda p, b: (p.replace("0=0.1", "0=zero"), b), "malformed parameter"),
    ],
)  # fmt: skip
def test_malformed_ncnn_files_are_refused_naming_the_culprit(tmp_path, mutate, message):
    param, bin_, _ = _write_ncnn(tmp_path)
    p, b = mutate(param.read_text(), bin_.read_bytes())
    param.write_text(p)
    bin_.write_bytes(b)
    with pytest.raises(ModelError, match=message):
        NcnnGraph(param, bin_)


def test_ncnn_error_names_the_file_and_line(tmp_path):
    param, bin_, _ = _write_ncnn(tmp_path)
    param.write_text(param.read_text().replace("ReLU             relu", "Mystery          relu"))
    with pytest.raises(ModelError, match=r"m\.param:5"):
        NcnnGraph(param, bin_)


def test_depth_to_space_is_tensorflows_order():
    # TF's depth_to_space, r = 2, one output channel: the four channels of a pixel, in order,
    # fill its 2x2 block row by row (worked by hand from the TF documentation's example)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1, 1)
    assert depth_to_space_dcr(x, 2).flatten().tolist() == [1.0, 2.0, 3.0, 4.0]
    # two output channels: channel index = (i*r + j)*C + c, so the block of c=0 is 1,3,5,7
    x = torch.arange(1.0, 9.0).view(1, 8, 1, 1)
    out = depth_to_space_dcr(x, 2)
    assert out[0, 0].flatten().tolist() == [1.0, 3.0, 5.0, 7.0]
    assert out[0, 1].flatten().tolist() == [2.0, 4.0, 6.0, 8.0]
    # torch's pixel_shuffle reads c*r^2 + i*r + j instead: the two differ
    assert F.pixel_shuffle(x, 2)[0, 0].flatten().tolist() == [1.0, 2.0, 3.0, 4.0]


# --- TF.js ------------------------------------------------------------------------------------


def _conv(name, filters, k, inputs, activation="linear", padding="same", use_bias=True):
    return {
        "class_name": "Conv2D",
        "name": name,
        "config": {"name": name, "filters": filters, "kernel_size": [k, k], "strides": [1, 1], "padding": padding,
                   "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": activation,
                   "use_bias": use_bias},
        "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]],
    }  # fmt: skip


def _layer(cls, name, inputs, **cfg):
    return {"class_name": cls, "name": name, "config": {"name": name, **cfg},
            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []}  # fmt: skip


def _tfjs_model(tmp_path, mutate=None):
    rng = np.random.default_rng(3)
    weights = {
        "c1/kernel": rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32),
        "c1/bias": rng.normal(0, 0.1, 4).astype(np.float32),
        "c2/kernel": rng.normal(0, 0.3, (3, 3, 4, 4)).astype(np.float32),
        "c2/bias": rng.normal(0, 0.1, 4).astype(np.float32),
        "c3/kernel": rng.normal(0, 0.3, (1, 1, 8, 12)).astype(np.float32),
    }
    layers = [
        _layer("InputLayer", "inp", [], batch_input_shape=[None, None, None, 3]),
        _conv("c1", 4, 3, ["inp"]),
        _layer("Activation", "act", ["c1"], activation="relu"),
        _conv("c2", 4, 3, ["act"], activation="sigmoid"),
        _layer("MultiplyBeta", "beta", ["c2"], beta=0.2),
        _layer("Add", "add", ["beta", "c1"]),
        _layer("Concatenate", "cat", ["add", "act"], axis=3),
        _conv("c3", 12, 1, ["cat"], use_bias=False),
        _layer("PixelShuffle2x", "ps", ["c3"], scale=2),
        _layer("UpSampling2D", "up", ["ps"], size=[2, 2], interpolation="nearest"),
    ]
    doc = {
        "format": "layers-model",
        "modelTopology": {"model_config": {"class_name": "Functional", "config": {
            "name": "m", "layers": layers, "input_layers": [["inp", 0, 0]], "output_layers": [["up", 0, 0]]}}},
        "weightsManifest": [{"paths": ["shard1.bin", "shard2.bin"],
                             "weights": [{"name": k, "shape": list(v.shape), "dtype": "float32"}
                                         for k, v in weights.items()]}],
    }  # fmt: skip
    data = b"".join(v.astype("<f4").tobytes() for v in weights.values())
    shards = [data[:100], data[100:]]
    if mutate:
        doc, shards = mutate(doc, shards)
    (tmp_path / "model.json").write_text(json.dumps(doc))
    for i, s in enumerate(shards):
        (tmp_path / f"shard{i + 1}.bin").write_bytes(s)
    return tmp_path / "model.json", weights


def test_tfjs_model_matches_the_same_graph_written_in_torch(tmp_path):
    path, w = _tfjs_model(tmp_path)
    net = TfjsLayersModel(path)
    x = torch.rand(2, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    t = {k: torch.from_numpy(v).permute(3, 2, 0, 1) if v.ndim == 4 else torch.from_numpy(v) for k, v in w.items()}
    c1 = F.conv2d(x, t["c1/kernel"], t["c1/bias"], padding=1)
    act = F.relu(c1)
    c2 = torch.sigmoid(F.conv2d(act, t["c2/kernel"], t["c2/bias"], padding=1))
    add = 0.2 * c2 + c1
    c3 = F.conv2d(torch.cat([add, act], 1), t["c3/kernel"])
    # depth_to_space, written with explicit loops over the TF definition
    n, _, h, wd = c3.shape
    ps = torch.empty(n, 3, 2 * h, 2 * wd)
    for i in range(2):
        for j in range(2):
            for c in range(3):
                ps[:, c, i::2, j::2] = c3[:, (i * 2 + j) * 3 + c]
    expected = ps.repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(net(x), expected, atol=1e-5, rtol=1e-5)


def _drop_weight(doc, shards):
    doc["weightsManifest"][0]["weights"] = doc["weightsManifest"][0]["weights"][:-1]
    return doc, [shards[0], shards[1][: -8 * 12 * 4]]


def _quantise(doc, shards):
    doc["weightsManifest"][0]["weights"][0]["quantization"] = {"dtype": "uint8", "min": 0, "scale": 1}
    return doc, shards


def _unknown(doc, shards):
    doc["modelTopology"]["model_config"]["config"]["layers"][2]["class_name"] = "Lambda"
    return doc, shards


def _activation(doc, shards):
    doc["modelTopology"]["model_config"]["config"]["layers"][3]["config"]["activation"] = "gelu_new"
    return doc, shards


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d, s: (d, [s[0], s[1][:-4]]), "needs bytes"),
        (lambda d, s: (d, [s[0], s[1] + b"\0\0\0\0"]), "more than its manifest"),
        (_drop_weight, "c3/kernel"),
        (_quantise, "quantised"),
        (_unknown, "unsupported layer class 'Lambda'"),
        (_activation, "unknown activation 'gelu_new'"),
        (lambda d, s: ({**d, "format": "graph-model"}, s), "graph models"),
    ],
)
def test_malformed_tfjs_models_are_refused_naming_the_culprit(tmp_path, mutate, message):
    path, _ = _tfjs_model(tmp_path, mutate)
    with pytest.raises(ModelError, match=message):
        TfjsLayersModel(path)


def test_a_missing_tfjs_shard_is_named(tmp_path):
    path, _ = _tfjs_model(tmp_path)
    (tmp_path / "shard2.bin").unlink()
    with pytest.raises(ModelError, match=r"shard2\.bin"):
        TfjsLayersModel(path)
