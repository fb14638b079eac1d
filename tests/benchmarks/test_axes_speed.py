"""Cost against the number of degradations: 1, 3 and 6 on the shipped LFW demo sample (dlib).

Run: python -m pytest tests/benchmarks/test_axes_speed.py --benchmark-only -p no:cacheprovider
"""

import pytest

from srfacebench.demo import run_demo

SPECS = {
    1: ["bicubic:4"],
    3: ["bicubic:4", "blur:sigma=1.5+bicubic:4", "bicubic:4+jpeg:q=30"],
    6: ["bicubic:4", "blur:sigma=1.5+bicubic:4", "bicubic:4+jpeg:q=30", "bicubic:4+noise:sigma=10",
        "realistic:4", "bicubic:8"],
}  # fmt: skip


@pytest.mark.parametrize("n", sorted(SPECS))
def test_run_with_n_degradations(benchmark, tmp_path, n):
    cache = tmp_path / "cache"
    run_demo(out=tmp_path / "warm", degradations=SPECS[n][:1], cache_dir=cache, progress=False, report=False)  # chips

    def fresh_run():
        out = tmp_path / f"run-{fresh_run.k}"
        fresh_run.k += 1
        return run_demo(out=out, degradations=SPECS[n], cache_dir=cache, progress=False, report=False)

    fresh_run.k = 0
    res = benchmark.pedantic(fresh_run, rounds=2, iterations=1)
    assert len({r.degradation for r in res.rows}) == n + 1
