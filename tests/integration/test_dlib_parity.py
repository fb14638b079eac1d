"""The torch port against dlib's own C++ descriptor on real LFW face chips."""

import random

import numpy as np
import pytest
import torch

dlib = pytest.importorskip("dlib")

from srfacebench.data.align import Aligner, list_images  # noqa: E402
from srfacebench.data.images import read_rgb  # noqa: E402
from srfacebench.embedders.dlib_resnet import DlibResNet29, find_dlib_model_file  # noqa: E402


@pytest.fixture(scope="module")
def chips(data_root):
    """64 dlib 150×150 chips of LFW images drawn (seeded) from the whole set."""
    root = data_root / "lfw" / "lfw-deepfunneled"
    people = sorted(p.name for p in root.iterdir())
    rng = random.Random(20261129)
    picked = [sorted((root / p).iterdir())[0] for p in rng.sample(people, 64)]
    aligner = Aligner(size=150, padding=0.25)
    return np.stack([aligner.align(read_rgb(p))[0] for p in picked])


def test_port_equals_dlib_compute_face_descriptor(chips):
    rec = dlib.face_recognition_model_v1(str(find_dlib_model_file()))
    ref = np.array(rec.compute_face_descriptor(list(chips)))
    net = DlibResNet29().eval()
    with torch.inference_mode():
        out = net(torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 255).numpy()
    assert ref.shape == out.shape == (64, 128)
    assert np.abs(out - ref).max() <= 1e-5


def test_list_images_finds_lfw(data_root):
    rels = list_images(data_root / "lfw" / "lfw-deepfunneled" / "George_W_Bush")
    assert len(rels) == 530 and rels[0] == "George_W_Bush_0001.jpg"
