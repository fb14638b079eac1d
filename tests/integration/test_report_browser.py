"""The HTML report of a real run, opened in headless Chromium: renders, no console errors, no
network, escaped names; the screenshot goes to $SRFACEBENCH_ARTIFACTS (or the test's tmp dir)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report_browser import render

from srfacebench.demo import run_demo
from srfacebench.report import build_report


def test_report_renders_offline_in_chromium(tmp_path, session_cache):
    run = tmp_path / "demo"
    run_demo(out=run, cache_dir=session_cache, progress=False, n_boot=200)
    html = run / "report.html"
    assert html.is_file()
    shots = Path(os.environ.get("SRFACEBENCH_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    found = render(html, shots / "report.png")
    assert found == {"errors": [], "external_requests": [], "dialogs": []}
    assert (shots / "report.png").stat().st_size > 50_000
    print(f"screenshot: {shots / 'report.png'}")


def test_hostile_model_name_shows_as_text(tmp_path, session_cache, data_root):
    adapters = tmp_path / "adapters_x"
    adapters.mkdir()
    (adapters / "hostile.py").write_text(
        "import torch.nn.functional as F\nfrom srfacebench import ModelInfo\n"
        "def load(scale, device='cpu', **kw):\n"
        "    f = lambda lr: F.interpolate(lr, scale_factor=scale, mode='bilinear')\n"
        "    f.info = ModelInfo(name='<script>alert(1)</script>')\n    return f\n"
    )
    sys.path.insert(0, str(adapters))
    try:
        from srfacebench.demo import demo_data_root
        from srfacebench.engine import evaluate
        from srfacebench.protocols import load_protocol

        proto = load_protocol(demo_data_root() / "lfw-verification-demo.toml")
        out = tmp_path / "hostile-run"
        evaluate(["hostile"], [proto], [8], out, data_root=demo_data_root(), cache_dir=session_cache,
                 progress=False, report=False)  # fmt: skip
    finally:
        sys.path.remove(str(adapters))
    build_report([out], out / "report.html", n_boot=50)
    found = render(out / "report.html", tmp_path / "hostile.png")
    assert found["dialogs"] == [] and found["errors"] == [] and found["external_requests"] == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (out / "report.html").read_text()
