"""The dlib ResNet-29 port: contract, batch invariance, gradients (real weights, synthetic input)."""

import numpy as np
import pytest
import torch

from srfacebench.embedders.dlib_format import read_dlib_net
from srfacebench.embedders.dlib_resnet import DlibResNet29, find_dlib_model_file
from srfacebench.registry import available_embedders, load_embedder


@pytest.fixture(scope="module")
def net():
    return DlibResNet29().eval()


def test_file_structure_matches_the_published_architecture():
    parsed = read_dlib_net(find_dlib_model_file())
    kinds = [layer.kind for layer in parsed.layers]
    assert kinds.count("con_4") == 29
    assert kinds.count("affine_") == 29
    assert kinds.count("add_prev_") == 14
    assert kinds.count("avg_pool_2") == 5
    assert kinds.count("max_pool_2") == 1
    assert parsed.input_size == (150, 150)
    np.testing.assert_allclose(parsed.channel_means, (122.782, 117.001, 104.298), atol=1e-4)


def test_contract_and_sizes(net):
    assert (net.name, net.input_size, net.dim, net.distance) == ("dlib-resnet29", (150, 150), 128, "euclidean")
    for size in (150, 160, 40, 200):
        out = net(torch.rand(2, 3, size, size))
        assert out.shape == (2, 128) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="B×3×H×W"):
        net(torch.rand(3, 150, 150))


def test_feature_maps_follow_dlib_sizes(net):
    x = net.stem(net.normalise(torch.rand(1, 3, 150, 150)))
    sizes = [x.shape[-1]]
    for block in net.blocks:
        x = block(x)
        if block.down:
            sizes.append(x.shape[-1])
    assert sizes == [35, 17, 8, 4, 2]


def test_batch_of_one_equals_batch_of_32(net):
    torch.manual_seed(0)
    x = torch.rand(32, 3, 160, 160)
    with torch.no_grad():
        full = net(x)
        single = torch.cat([net(x[i : i + 1]) for i in range(32)])
    assert (full - single).abs().max().item() <= 1e-5


def test_gradients_reach_the_image(net):
    sr = torch.rand(2, 3, 160, 160, requires_grad=True)
    hr = torch.rand(2, 3, 160, 160)
    loss = ((net(sr) - net(hr)) ** 2).sum(dim=1).mean()
    loss.backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())  # weights are frozen


def test_registry_lists_and_loads():
    assert "dlib-resnet29" in available_embedders()
    assert isinstance(load_embedder("dlib-resnet29"), DlibResNet29)
