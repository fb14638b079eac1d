"""facenet InceptionResnetV1 without weights: keys, forward equivalence, shapes, gradients.

The golden file was produced by facenet-pytorch 2.6.0 itself (the independent reference): its
state-dict keys and shapes, and its outputs for a seeded weight initialisation and input.
"""

import json
from pathlib import Path

import pytest
import torch

from srfacebench.embedders.facenet import FacenetVGGFace2, InceptionResnetV1, prewhiten
from srfacebench.errors import ModelError

GOLDEN = json.loads((Path(__file__).parent / "facenet_pytorch_golden.json").read_text())


def seeded(net: torch.nn.Module) -> torch.nn.Module:
    sd = net.state_dict()
    g = torch.Generator().manual_seed(0)
    new = {}
    for k, v in sd.items():
        if v.dtype.is_floating_point:
            new[k] = (
                torch.rand(v.shape, generator=g) + 0.5
                if k.endswith("running_var")
                else torch.randn(v.shape, generator=g) * 0.05
            )
        else:
            new[k] = v
    net.load_state_dict(new)
    return net.eval()


def test_state_dict_keys_and_shapes_match_facenet_pytorch():
    ours = {k: list(v.shape) for k, v in InceptionResnetV1().state_dict().items()}
    assert list(ours) == list(GOLDEN["keys"])
    assert ours == GOLDEN["keys"]


def test_forward_matches_facenet_pytorch():
    net = seeded(InceptionResnetV1())
    x = torch.randn(2, 3, 160, 160, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = net(x)
    torch.testing.assert_close(out[:, :8], torch.tensor(GOLDEN["output_first8"]), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.sum(dim=1), torch.tensor(GOLDEN["output_sum"]), atol=1e-4, rtol=0)


def test_prewhiten_by_hand():
    x = torch.tensor([0.0, 2.0, 4.0, 6.0]).view(1, 1, 2, 2)  # mean 3, population std sqrt(5)
    expected = (torch.tensor([0.0, 2.0, 4.0, 6.0]) - 3) / 5**0.5
    torch.testing.assert_close(prewhiten(x).flatten(), expected)
    flat = torch.full((1, 3, 4, 4), 7.0)  # std 0 -> floored at 1/sqrt(48): output all zero
    assert prewhiten(flat).abs().max() == 0


def test_embedder_shapes_gradients_and_missing_weights(tmp_path):
    with pytest.raises(ModelError, match="needs a local weights file"):
        FacenetVGGFace2()
    with pytest.raises(ModelError, match="weights file not found"):
        FacenetVGGFace2(tmp_path / "nope.pt")
    emb = FacenetVGGFace2(allow_random=True).eval()
    sr = torch.rand(2, 3, 128, 128, requires_grad=True)
    out = emb(sr)
    assert out.shape == (2, 512)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    out.sum().backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0


def test_loads_a_state_dict_file_with_weights_only(tmp_path):
    net = seeded(InceptionResnetV1(num_classes=10))
    path = tmp_path / "w.pt"
    torch.save(net.state_dict(), path)
    emb = FacenetVGGFace2(path).eval()
    assert emb.weights_sha256 and len(emb.weights_sha256) == 64
    x = torch.rand(1, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(emb(x), net(prewhiten(x * 255)))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"bad\.pt: not a loadable torch state dict"):
        FacenetVGGFace2(tmp_path / "bad.pt")
