"""scripts/train/seed_table.py: differences, p-values and means worked by hand on a tiny JSON."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train" / "seed_table.py"


def _metric(protocol, model, embedder, metric, value):
    return {"protocol": protocol, "model": model, "embedder": embedder, "metric": metric, "value": value}


def _report(tmp_path, name, van, fr, acc, rank1, p_acc):
    metrics = []
    for model, a, r in ((van, acc[0], rank1[0]), (fr, acc[1], rank1[1])):
        metrics += [
            _metric("lfw-verification", model, "net", "accuracy", a),
            _metric("lfw-identification", model, "net", "rank1", r),
            _metric("lfw-verification", model, "net", "fr_loss", 0.5 if model == van else 0.25),
            _metric("lfw-verification", model, "net", "psnr_y", 30.0 if model == van else 29.5),
        ]
    comps = [{"protocol": "lfw-verification", "model_a": van, "model_b": fr, "embedder": "net",
              "metric": "accuracy", "p_value": p_acc}]  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps({"metrics": metrics, "comparisons": comps}))
    return str(path)


def test_per_seed_differences_and_their_mean(tmp_path, capsys, monkeypatch):
    a = _report(tmp_path, "a.json", "v0", "f0", (0.90, 0.89), (0.80, 0.82), 0.5)
    b = _report(tmp_path, "b.json", "v1@x", "f1@y", (0.90, 0.93), (0.80, 0.80), 1e-13)
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), a, b, "0:v0:f0", "1:v1@x:f1@y"])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out
    rows = {line.split(" | ")[0].strip("| "): line for line in out.splitlines() if line.startswith("| ")}
    assert "0.9000 / 0.8900 / -0.0100 (0.5)" in rows["0"]  # fr − vanilla, the report's p (flipped pair)
    assert "0.9000 / 0.9300 / +0.0300 (< 1e-12)" in rows["1"]
    assert "+0.0100 (ft-fr ≥ ft-vanilla in 1 of 2 seeds)" in rows["mean"]  # (−0.01 + 0.03) / 2
    assert "+0.0100 (ft-fr ≥ ft-vanilla in 2 of 2 seeds)" in rows["mean"]  # rank-1: +0.02, 0
    assert "-0.2500 (ft-fr ≤ ft-vanilla in 2 of 2 seeds)" in rows["mean"]  # FR loss, lower is better


def test_a_seed_without_its_models_is_refused(tmp_path, monkeypatch):
    a = _report(tmp_path, "a.json", "v0", "f0", (0.9, 0.9), (0.8, 0.8), 0.5)
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), a, "0:v0"])
    with pytest.raises(SystemExit, match="SEED:VANILLA_MODEL:FR_MODEL"):
        runpy.run_path(str(SCRIPT), run_name="__main__")
