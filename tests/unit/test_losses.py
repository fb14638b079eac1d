"""FR loss: value by hand, gradients to the SR image, and the BatchNorm modes."""

import pytest
import torch

from srfacebench.embedders.dlib_resnet import DlibResNet29
from srfacebench.embedders.facenet import FacenetVGGFace2
from srfacebench.losses import FRLoss, fr_distance


def test_fr_distance_by_hand():
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    torch.testing.assert_close(fr_distance(a, b), torch.tensor([25.0, 0.0]))
    with pytest.raises(ValueError, match="shapes differ"):
        fr_distance(a, b[:1])


def test_gradient_flows_to_sr_and_zero_for_identical():
    loss = FRLoss(DlibResNet29(), bn_mode="eval")
    hr = torch.rand(2, 3, 160, 160)
    sr = (hr + 0.05 * torch.randn_like(hr)).clamp(0, 1).requires_grad_(True)
    value = loss(sr, hr)
    assert value.shape == (2,) and (value > 0).all()
    value.sum().backward()
    assert sr.grad.abs().sum() > 0
    assert loss(hr, hr).abs().max() < 1e-8


def test_train_mode_updates_batchnorm_statistics_only():
    emb = FacenetVGGFace2(allow_random=True)
    bn = emb.net.conv2d_1a.bn
    weights = emb.net.conv2d_1a.conv.weight.clone()
    before = bn.running_mean.clone()
    FRLoss(emb, bn_mode="train")(torch.rand(2, 3, 160, 160), torch.rand(2, 3, 160, 160))
    assert not torch.equal(bn.running_mean, before)  # statistics moved
    assert torch.equal(emb.net.conv2d_1a.conv.weight, weights) and not weights.requires_grad
    frozen = bn.running_mean.clone()
    FRLoss(emb, bn_mode="eval")(torch.rand(2, 3, 160, 160), torch.rand(2, 3, 160, 160))
    assert torch.equal(bn.running_mean, frozen)
