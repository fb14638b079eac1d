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


NEAREST = """
import torch.nn.functional as F
from srfacebench.resolver import ModelInfo


def load(scale, device="cpu", **kw):
    def up(lr):
        return F.interpolate(lr, scale_factor=scale, mode="nearest")

    up.info = ModelInfo(name="nearest-local")
    return up
"""


def test_a_three_model_two_degradation_two_network_report_reads_at_1400px(tmp_path, session_cache):
    """The issue's reading test: ≥ 3 models, 2 degradations, 2 FR networks; at 1,400 px no
    horizontal scroll, the findings in the first screen, faces at native size with a zoom."""
    from report_browser import layout

    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "nearest_local.py").write_text(NEAREST)
    sys.path.insert(0, str(tmp_path / "mods"))
    try:
        run = tmp_path / "wide"
        run_demo(out=run, cache_dir=session_cache, progress=False, n_boot=100, scales=[4, 8],
                 models=["srfacebench.adapters.template", "nearest_local"],
                 embedders=["dlib-resnet29", "mobileface-v2"])  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path / "mods"))
    shots = Path(os.environ.get("SRFACEBENCH_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    m = layout(run / "report.html", shots / "report-1400-first-screen.png")
    print(m)
    assert m["scroll_width"] <= m["inner_width"], "the page scrolls horizontally at 1,400 px"
    assert m["leaderboard_overflow"] <= 0, "the leaderboard needs horizontal scrolling at 1,400 px"
    assert m["answer_top"] is not None and m["answer_top"] < 900, "the findings are not in the first screen"
    assert m["face_width"] == 160 and m["face_natural"] == 160  # HR and SR chips at their native size
    assert m["face_width_zoom2"] == 320 and m["face_width_clicked"] == 480
    assert m["scroll_width_zoomed"] <= m["inner_width"]  # zoomed faces scroll inside their own box
