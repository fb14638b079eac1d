"""End-to-end streaming throughput against the embedder's bare forward, same batch size.

Run on demand (needs the real data):
    python -m pytest tests/benchmarks/test_pipeline_speed.py -p no:cacheprovider --benchmark-only -s
Throughput in embeddings/s: the pipeline embeds HR and bicubic-SR of every image (2 per image).
"""

import numpy as np
import pytest
import torch

from srfacebench.data.chips import ChipDataset, ensure_aligned
from srfacebench.data.identity import load_identity_folder
from srfacebench.degradations import parse_degradation
from srfacebench.registry import load_embedder, resolve_models
from srfacebench.streaming import Embedder, PoolStream, Variant, stream_pool

BATCH = 64


@pytest.fixture(scope="module")
def pool(data_root, tmp_path_factory):
    fs = load_identity_folder(data_root / "lfw", images="lfw-deepfunneled", min_images=40, max_images=60)
    cache = tmp_path_factory.mktemp("cache")
    aligned = ensure_aligned(fs, cache, 160, 0.25, progress=False)
    return fs, aligned


def test_bare_forward(benchmark, pool):
    _, aligned = pool
    x = torch.stack([ChipDataset(aligned.root, aligned.names)[i][1] for i in range(BATCH * 4)])
    emb = Embedder(load_embedder("dlib-resnet29"), "cpu")

    def run():
        for j in range(0, len(x), BATCH):
            emb(x[j : j + BATCH])

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    rate = len(x) / benchmark.stats.stats.min
    benchmark.extra_info["embeddings_per_s"] = rate
    print(f"bare forward: {rate:.1f} embeddings/s")


@pytest.mark.parametrize("workers", [0, 1])
def test_streaming(benchmark, pool, tmp_path, workers):
    fs, aligned = pool
    emb = Embedder(load_embedder("dlib-resnet29"), "cpu")
    (bic,) = resolve_models("bicubic")
    counter = iter(range(100))
    degs = {"bicubic:4": parse_degradation("bicubic:4")}

    def run():
        variants = [Variant("hr", "none", 1, None), Variant("bicubic", "bicubic:4", 4, bic.load(4))]
        emb_keys = {(v.id, "dlib"): v.id.replace("|", "_").replace(":", "") for v in variants}
        iq_keys = {v.id: v.id.replace("|", "_").replace(":", "") for v in variants}
        stream_pool(PoolStream(aligned.root, aligned.names, fs.paths, variants, degs, {"dlib": emb}, emb_keys,
                               iq_keys, tmp_path / str(next(counter)), batch_size=BATCH, workers=workers))  # fmt: skip

    benchmark.pedantic(run, rounds=2, iterations=1)
    rate = 2 * len(fs) / benchmark.stats.stats.min
    benchmark.extra_info["embeddings_per_s"] = rate
    print(f"streaming (workers={workers}): {rate:.1f} embeddings/s over {len(fs)} images")
    assert np.isfinite(rate)
