"""The explorer served for real: `weekly-playlists explore` on a free port of 127.0.0.1 over
the tiny warehouse, its listener page loaded in headless Chromium through playwright.

Playwright's own browser download cannot be reached here: the test drives Debian's
`chromium`, which `make test` installs (`make browser`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from explore_warehouse import FIRST_DW_TRACK, build_warehouse

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
STARTUP_SECONDS = 120  # imports on 2 busy cores
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no chromium: `make browser` installs Debian's"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the explorer exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"the explorer did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture
def explorer(tmp_path):
    """The URL of `weekly-playlists explore` serving the tiny warehouse."""
    home = build_warehouse(tmp_path / "home").home
    port, log = free_port(), tmp_path / "explore.log"
    env = {key: value for key, value in os.environ.items() if key != "WP_CONFIG"}
    command = [Path(sys.executable).with_name("weekly-playlists"), "explore", "--port", str(port)]
    with log.open("w") as output:
        server = subprocess.Popen(
            command, env={**env, "WP_HOME": str(home)}, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()  # `explore` became streamlit (exec): this stops the server
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert f"explorer on {url}" in log.read_text()


def test_the_listener_page_in_a_browser_shows_the_first_discover_weekly_track(explorer):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page()
            page.goto(explorer)
            first_track = page.get_by_role("cell", name=FIRST_DW_TRACK, exact=True)
            first_track.wait_for(timeout=STARTUP_SECONDS * 1000)
            assert page.get_by_role("heading", name="Discover Weekly").is_visible()
            assert not page.get_by_text("Traceback").count()
        finally:
            browser.close()
