"""Open a report in headless Chromium (Playwright driving Debian's /usr/bin/chromium), collect
console errors and network requests, and save a screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Chromium found: install Debian's 'chromium' package (the README's test command does)")


def render(html: Path, screenshot: Path) -> dict[str, list[str]]:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(html.resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        page.click("#leaderboard th:nth-child(4)")  # the sortable table works
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    external = [u for u in requests if not (u.startswith("file:") or u.startswith("data:"))]
    return {"errors": errors, "external_requests": external, "dialogs": dialogs}


def layout(html: Path, screenshot: Path, width: int = 1400) -> dict[str, object]:
    """Open the report at ``width`` px and measure what a reader meets: horizontal scroll, whether
    the findings are in the first screen, and the sample faces' size before and after the zoom
    control and a click."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(html.resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        m: dict[str, object] = page.evaluate(
            """() => {
            const face = document.querySelector("table.faces img");
            const answer = document.querySelector("#findings");
            return {
              scroll_width: document.documentElement.scrollWidth,
              inner_width: window.innerWidth,
              answer_top: answer ? answer.getBoundingClientRect().top : null,
              face_width: face ? face.getBoundingClientRect().width : null,
              face_natural: face ? face.naturalWidth : null,
              leaderboard_overflow: (() => { const d = document.querySelector("#leaderboard").parentElement;
                                            return d.scrollWidth - d.clientWidth; })(),
            };
        }"""
        )
        page.screenshot(path=str(screenshot))  # the first screen
        if m["face_width"] is not None:
            page.select_option("#face-zoom", "2")
            m["face_width_zoom2"] = page.evaluate(
                'document.querySelector("table.faces img").getBoundingClientRect().width'
            )
            page.select_option("#face-zoom", "1")
            page.click("table.faces img")
            m["face_width_clicked"] = page.evaluate(
                'document.querySelector("table.faces img").getBoundingClientRect().width'
            )
            m["scroll_width_zoomed"] = page.evaluate("document.documentElement.scrollWidth")
        browser.close()
    return m
