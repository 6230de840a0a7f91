"""Open a rendered report.html in real headless Chromium: no console error, every image decoded,
and a full-page screenshot.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (file descriptors
3 and 4, NUL-separated JSON), so no port is opened and no extra library is needed. Install with
``apt-get update && apt-get install -y chromium``; without it the tests fail, unless
``AUTOTTS_SKIP_BROWSER=1`` skips them.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_report_support import discovery_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
]


def _pipe_to_fds_3_and_4(read_end: int, write_end: int) -> None:
    """In the child: Chromium reads commands from fd 3 and writes replies to fd 4. Move both ends
    out of the way first, so that placing one never overwrites the other."""
    high_read = fcntl.fcntl(read_end, fcntl.F_DUPFD, 10)
    high_write = fcntl.fcntl(write_end, fcntl.F_DUPFD, 10)
    os.dup2(high_read, 3)
    os.dup2(high_write, 4)


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, profile: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4),  # kept open in the child after _pipe_to_fds_3_and_4 has placed the pipes there
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: _pipe_to_fds_3_and_4(to_browser_r, from_browser_w),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the debugging pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 60, **params) -> dict:
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = self._read_message(deadline)
            self.events.append(message)
            if message.get("method") == method:
                return message

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):  # closing anyway
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


def open_in_chromium(page: Path, screenshot: Path, profile: Path) -> dict:
    """Load ``page``; return its images' decode state and every console error, and save a screenshot."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            browser.call(domain, session)
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        images = browser.call(
            "Runtime.evaluate",
            session,
            expression="JSON.stringify([...document.images].map(i => [i.complete, i.naturalWidth, i.alt]))",
            returnByValue=True,
        )["result"]["value"]
        height = browser.call(
            "Runtime.evaluate", session, expression="document.documentElement.scrollHeight", returnByValue=True
        )["result"]["value"]
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=1280,
            height=min(height, 16000),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = browser.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        errors = [
            e["params"]
            for e in browser.events
            if (e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") in ("error", "assert"))
            or e.get("method") == "Runtime.exceptionThrown"
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")
        ]
        return {"images": json.loads(images), "errors": errors, "height": height}
    finally:
        browser.close()


# a missing browser fails (CI installs it) unless the run opts out explicitly
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("AUTOTTS_SKIP_BROWSER") == "1",
    reason="AUTOTTS_SKIP_BROWSER=1 and no Chromium installed",
)


@pytest.fixture(autouse=True)
def _need_chromium() -> None:
    if CHROMIUM is None:
        pytest.fail("no Chromium: apt-get update && apt-get install -y chromium (or set AUTOTTS_SKIP_BROWSER=1)")


@pytest.mark.slow
def test_report_opens_cleanly_in_chromium(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    page = discovery_report(tmp_path_factory) / "report.html"
    shot = tmp_path / "screenshot.png"
    state = open_in_chromium(page, shot, tmp_path / "profile")
    assert state["errors"] == []
    assert len(state["images"]) == len(list(page.parent.glob("*.png"))) >= 8
    assert all(complete and width > 0 for complete, width, _ in state["images"]), state["images"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


def test_the_browser_check_catches_broken_pages(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img alt="x" src="data:image/png;base64,iVBORw0KGgo=">'
        '<script>console.error("deliberate")</script></body></html>'
    )
    state = open_in_chromium(page, tmp_path / "shot.png", tmp_path / "profile")
    assert any(w == 0 for _, w, _ in state["images"])
    assert any("deliberate" in json.dumps(e) for e in state["errors"])
