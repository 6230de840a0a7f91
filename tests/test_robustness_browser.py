"""``robustness.html`` in real headless Chromium: it renders without errors, and the text a reader
sees states, before the heat map, which conditions fail."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from autotts.robustness import analyse, default_conditions, resolve_entry, select_conditions
from autotts.robustness.html import render
from test_browser import CHROMIUM, DevTools

FRAGILE = str(Path(__file__).resolve().parent / "candidates" / "fragile_delta.py")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("AUTOTTS_SKIP_BROWSER") == "1",
    reason="AUTOTTS_SKIP_BROWSER=1 and no Chromium installed",
)


def visible_text(page: Path, profile: Path, screenshot: Path) -> tuple[str, list]:
    """The page's rendered text (``innerText``) and its console errors; saves a screenshot."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            browser.call(domain, session)
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        text = browser.call("Runtime.evaluate", session, expression="document.body.innerText", returnByValue=True)
        shot = browser.call("Page.captureScreenshot", session, format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        errors = [
            e
            for e in browser.events
            if e.get("method") == "Runtime.exceptionThrown"
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")
        ]
        return text["result"]["value"], errors
    finally:
        browser.close()


@pytest.mark.slow
def test_robustness_report_renders_and_names_the_failing_conditions(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.fail("no Chromium: apt-get update && apt-get install -y chromium (or set AUTOTTS_SKIP_BROWSER=1)")
    report = analyse(
        resolve_entry(FRAGILE, trusted=True),
        [resolve_entry("cmc")],
        ["Qwen3-4B/aime25"],
        select_conditions(default_conditions(), ["delta1000", "delta1500"]),
        betas=[1.0],
        seeds=2,
        jobs=1,
        trusted=True,
    )
    page = render(report, tmp_path)
    text, errors = visible_text(page, tmp_path / "profile", tmp_path / "shot.png")
    assert errors == []
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    failed = [v.condition for v in report.flagged() if v.controller == "fragile_delta"]
    assert "delta1500" in failed
    # the first thing said (after the table of contents) is which conditions fail, in words
    heat_map = text.index("Each cell: Δaccuracy")  # the heat map section's note
    assert text.index("fragile_delta (at β = 1) fails under") < text.index("Conditions under which fragile_delta fails")
    for condition in failed:
        assert text.index(f"{condition}: fragile_delta") < heat_map
    assert "loses more than half its saving under delta1500" in text
    assert "⚑" in text
