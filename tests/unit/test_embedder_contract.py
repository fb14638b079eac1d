"""One contract for every registered FR network (timm-style), via srfacebench.testing.check_embedder."""

import pytest

from srfacebench.registry import available_embedders, load_embedder
from srfacebench.testing import check_embedder

# Arguments that make a network loadable without files we do not ship (facenet's weights).
_KWARGS = {"facenet-vggface2": {"allow_random": True}}


@pytest.mark.parametrize("name", available_embedders())
def test_every_registered_embedder_meets_the_contract(name):
    net = load_embedder(name, **_KWARGS.get(name, {}))
    assert net.describe()["name"] == name
    check_embedder(net)


def test_the_check_fails_loudly_on_a_batch_dependent_network():
    import torch

    from srfacebench.embedders.base import FaceEmbedder

    class Leaky(FaceEmbedder):
        name, input_size, dim = "leaky", (16, 16), 4

        def normalise(self, x):
            return x

        def embed_normalised(self, x):
            return x.flatten(1)[:, :4] - x.mean()  # depends on the whole batch

    with pytest.raises(AssertionError, match="'leaky': output depends on the batch"):
        check_embedder(Leaky())
    del torch
