"""Browser fixtures: Debian's chromium driven by playwright, one browser per test module
(the server with demo data, `demo_server`, is in tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_helpers import CHROMIUM


# Per module, not per session: a live sync_playwright keeps its event loop marked as running in
# the main thread, and every later asyncio test of the session would fail to start its own.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # expect() retries until this: room for a machine busy with other work, never a fixed sleep.
    sync_api.expect.set_options(timeout=15_000)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()
