"""Zoo throughput: each installed zoo model on a batch of LR faces of the benchmark's size.

Run on demand (not in CI):
    python -m pytest tests/benchmarks/test_zoo_speed.py -p no:cacheprovider --benchmark-only \
        --benchmark-columns=mean,ops
Throughput = 8 / mean seconds (HR chips of 160x160: LR 40x40 at x4, 20x20 at x8). Models whose
package is not installed are skipped. Results and the machine go in docs/benchmarks.md.
"""

import pytest
import torch

from srfacebench.errors import ModelError
from srfacebench.registry import resolve_models
from srfacebench.zoo.catalogue import CATALOGUE

N, HR = 8, 160
NAMES = [n for n in CATALOGUE if CATALOGUE[n].scale in (4, 8)]


@pytest.mark.parametrize("name", NAMES)
def test_zoo_model_throughput(benchmark, name):
    scale = CATALOGUE[name].scale
    try:
        model = resolve_models(f"zoo:{name}")[0].load(scale)
    except ModelError as e:
        pytest.skip(str(e))
    lr = torch.rand(N, 3, HR // scale, HR // scale, generator=torch.Generator().manual_seed(0))
    out = benchmark.pedantic(lambda: model(lr), rounds=2, iterations=1, warmup_rounds=1)
    assert out.shape == (N, 3, HR, HR)
