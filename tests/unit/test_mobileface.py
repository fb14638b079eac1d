"""MobileFace V2: the MXNet reader's errors, the vendored checkpoint's checks, the template warp."""

import json
import shutil
import struct

import numpy as np
import pytest
import torch

from srfacebench.embedders.mobileface import (
    ARCFACE_TEMPLATE,
    MobileFaceV2,
    _weights_dir,
    similarity_transform,
    warp_to_template,
)
from srfacebench.embedders.mxnet_format import MXNetGraph, read_ndarray_list
from srfacebench.errors import ModelError

SYMBOL = "MobileFace_Identification_V2-symbol.json"
PARAMS = "MobileFace_Identification_V2-0000.params"


def test_vendored_checkpoint_reads_with_the_expected_parameters():
    w = read_ndarray_list(_weights_dir() / PARAMS)
    assert len(w) == 191 and w["arg:fc5_weight"].shape[0] == 256
    assert sum(k.startswith("aux:") for k in w) == 2 * 38  # moving mean and var of 38 BatchNorms


def test_unknown_operator_names_the_node(tmp_path):
    graph = json.loads((_weights_dir() / SYMBOL).read_text())
    graph["nodes"][1]["op"] = "SoftmaxActivation"
    (tmp_path / "s.json").write_text(json.dumps(graph))
    with pytest.raises(ModelError, match="node '_minusscalar0' uses operator 'SoftmaxActivation'"):
        MXNetGraph(tmp_path / "s.json", _weights_dir() / PARAMS)


def test_mismatched_checkpoint_names_the_node(tmp_path):
    graph = json.loads((_weights_dir() / SYMBOL).read_text())
    conv = next(n for n in graph["nodes"] if n["name"] == "conv1")
    conv["attrs"]["num_filter"] = "16"
    (tmp_path / "s.json").write_text(json.dumps(graph))
    with pytest.raises(ModelError, match="node 'conv1': weight has shape \\(32, 3, 3, 3\\), the graph needs"):
        MXNetGraph(tmp_path / "s.json", _weights_dir() / PARAMS)


def test_truncated_and_foreign_params_files(tmp_path):
    data = (_weights_dir() / PARAMS).read_bytes()
    (tmp_path / "t.params").write_bytes(data[:1000])
    with pytest.raises(ModelError, match="truncated"):
        read_ndarray_list(tmp_path / "t.params")
    (tmp_path / "f.params").write_bytes(struct.pack("<QQQ", 0x999, 0, 0))
    with pytest.raises(ModelError, match="not an MXNet NDArray list"):
        read_ndarray_list(tmp_path / "f.params")


def test_changed_weights_fail_the_sha256_check(tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(_weights_dir(), folder)
    data = bytearray((folder / PARAMS).read_bytes())
    data[-5000] ^= 0xFF
    (folder / PARAMS).write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"SHA-256 .* is not the published checkpoint's"):
        MobileFaceV2(folder)


def test_similarity_transform_recovers_a_known_one():
    angle, s, t = 0.3, 1.7, torch.tensor([5.0, -2.0], dtype=torch.float64)
    r = torch.tensor([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=torch.float64)
    src = torch.rand(5, 2, dtype=torch.float64) * 100
    dst = s * src @ r.T + t
    m = similarity_transform(src, dst)
    torch.testing.assert_close(m[:, :2], s * r)
    torch.testing.assert_close(m[:, 2], t)


def test_warp_with_template_landmarks_is_the_identity():
    x = torch.rand(2, 3, 112, 112, dtype=torch.float64)
    out = warp_to_template(x, ARCFACE_TEMPLATE.expand(2, 5, 2))
    torch.testing.assert_close(out, x, atol=1e-9, rtol=0)


def test_cosine_and_layout_declared():
    net = MobileFaceV2()
    d = net.describe()
    assert d["distance"] == "cosine" and d["layout"] == "arcface-112-5pt" and len(d["weights_sha256"]) == 64


def test_folded_batchnorm_is_the_same_function():
    """Eval mode folds each BatchNorm into the layer it reads: in float64 the folded graph equals
    the graph as written to rounding; in float32, within 1e-5 on the L2-normalised embeddings
    scoring uses. Train mode does not fold, and the fold follows statistics that change."""
    from srfacebench.registry import load_embedder

    x = torch.rand(4, 3, 112, 112, generator=torch.Generator().manual_seed(0))
    net = load_embedder("mobileface-v2").eval()
    assert len(net.graph._foldable) == 38  # every BatchNorm of the published graph
    assert net.describe()["batchnorm_eval"] == "as written"  # the default
    net.graph.fold_batchnorm = True
    assert net.describe()["batchnorm_eval"] == "folded into the preceding layer"
    with torch.no_grad():
        folded = net(x)
        net.graph.fold_batchnorm = False
        plain = net(x)
        net.graph.fold_batchnorm = True

        def unit(t):
            return t / t.norm(dim=1, keepdim=True)

        assert (unit(folded) - unit(plain)).abs().max() <= 1e-5
        net64 = load_embedder("mobileface-v2").eval().double()
        net64.graph.fold_batchnorm = True
        f64 = net64(x.double())
        net64.graph.fold_batchnorm = False
        torch.testing.assert_close(f64, net64(x.double()), atol=1e-10, rtol=0)
    # Statistics move in train mode; the next eval pass folds the new ones.
    net.train()
    net(x)
    net.eval()
    with torch.no_grad():
        net.graph.fold_batchnorm = True
        after = net(x)
        net.graph.fold_batchnorm = False
        assert (unit(after) - unit(net(x))).abs().max() <= 1e-5
        assert (unit(after) - unit(folded)).abs().max() > 1e-3  # the statistics did change
    assert net.describe()["batchnorm_eval"] == "as written"
