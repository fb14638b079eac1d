"""The MobileFace V2 port against the outputs MXNet itself computed (../shared/data/fr/mobileface-v2/golden)."""

import numpy as np
import pytest
import torch

from srfacebench.embedders.mobileface import MobileFaceV2

pytestmark = pytest.mark.integration


def test_port_reproduces_mxnet_outputs(data_root):
    golden = data_root / "fr" / "mobileface-v2" / "golden"
    x = np.load(golden / "input_bgr_0_255.npy")
    y = np.load(golden / "output_fc5_bn.npy")
    net = MobileFaceV2().eval()
    with torch.no_grad():
        out = net.embed_normalised(torch.from_numpy(x)).numpy()  # the graph's own input convention
        ones = np.concatenate([net.embed_normalised(torch.from_numpy(x[i : i + 1])).numpy() for i in range(len(x))])
    assert np.abs(out - y).max() <= 1e-4
    assert np.abs(ones - out).max() <= 1e-4  # batch 1 vs 20
    # through the public forward: [0, 1] at 112 px is taken as template-aligned; the network is fed
    # the channels in the order it is configured for (the golden input's order is the graph's own)
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(x / 255.0).float()).numpy(), y, atol=1e-4)
        bgr_net = MobileFaceV2(channel_order="bgr").eval()
        np.testing.assert_allclose(bgr_net(torch.from_numpy(x[:, ::-1] / 255.0).float()).numpy(), y, atol=1e-4)
