"""``srfacebench embed`` and ``srfacebench align`` from the command line on real LFW images."""

import shutil

import numpy as np
import torch

from srfacebench.cli import main
from srfacebench.embedders.dlib_resnet import DlibResNet29


def test_align_then_embed(data_root, tmp_path, capsys):
    src = tmp_path / "src"
    for name in ("Aaron_Eckhart", "Abel_Pacheco"):
        shutil.copytree(data_root / "lfw" / "lfw-deepfunneled" / name, src / name)
    assert main(["align", str(src), str(tmp_path / "chips"), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "5 images: 5 aligned on a detected face, 0 by the fallback" in out
    assert main(["embed", str(tmp_path / "chips"), "-o", str(tmp_path / "e.npz")]) == 0
    with np.load(tmp_path / "e.npz") as z:
        paths, emb = list(z["paths"]), z["embeddings"]
    assert paths[0] == "Aaron_Eckhart/Aaron_Eckhart_0001.png" and emb.shape == (5, 128) and emb.dtype == np.float32
    # Same person closer than different people (Abel_Pacheco has 4 images).
    d = np.linalg.norm(emb[:, None] - emb[None], axis=2)
    assert d[1, 2] < d[0, 1]
    # The saved vectors are the embedder's own output.
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "chips" / paths[3]))
    with torch.inference_mode():
        ref = DlibResNet29().eval()(torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255)
    np.testing.assert_allclose(emb[3], ref[0].numpy(), atol=1e-5)


def test_embed_mixed_sizes(data_root, tmp_path):
    src = tmp_path / "mixed"
    src.mkdir()
    shutil.copy(data_root / "lfw" / "lfw-deepfunneled" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg", src / "a.jpg")
    from PIL import Image

    Image.open(src / "a.jpg").resize((100, 100)).save(src / "b.png")
    assert main(["embed", str(src), "-o", str(tmp_path / "m.npz")]) == 0
    with np.load(tmp_path / "m.npz") as z:
        assert z["embeddings"].shape == (2, 128)
