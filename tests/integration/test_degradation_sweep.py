"""Degradations on real LFW pairs: accuracy falls as blur rises and as JPEG quality falls."""

import itertools

import pytest

from srfacebench.engine import evaluate

pytestmark = pytest.mark.integration

BLUR = ["bicubic:4", "blur:sigma=2+bicubic:4", "blur:sigma=4+bicubic:4"]
JPEG = ["bicubic:4+jpeg:q=90", "bicubic:4+jpeg:q=30", "bicubic:4+jpeg:q=10"]


def test_accuracy_falls_with_severity(data_root, session_cache, tmp_path):
    res = evaluate(["bicubic"], ["lfw-verification"], [], tmp_path / "o", degradations=BLUR + JPEG,
                   data_root=data_root, cache_dir=session_cache, progress=False, report=False, limit=40)  # fmt: skip
    acc = {r.degradation: r.value for r in res.rows if r.model == "bicubic" and r.metric == "accuracy"}
    std = {r.degradation: r.std for r in res.rows if r.model == "bicubic" and r.metric == "accuracy"}
    psnr = {r.degradation: r.value for r in res.rows if r.metric == "psnr_y"}
    for sweep in (BLUR, JPEG):
        for milder, harsher in itertools.pairwise(sweep):
            # monotone within the fold-to-fold spread (std over 10 folds of 80 pairs)
            assert acc[harsher] <= acc[milder] + max(std[milder], std[harsher]) / 10**0.5, (milder, harsher, acc)
            assert psnr[harsher] < psnr[milder]
        assert acc[sweep[-1]] < acc[sweep[0]] - 0.02, acc  # the harshest clearly below the mildest
    hr = next(r.value for r in res.rows if r.model == "hr" and r.metric == "accuracy")
    assert hr >= acc["bicubic:4"]
