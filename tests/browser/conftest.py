"""Browser fixtures: Debian's chromium driven by playwright (one browser for the whole session),
and one real `stepwise serve` with demo data (demo loading takes seconds: the tests share it,
each working on its own tasks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from browser_helpers import CHROMIUM
from conftest import ROOT, running_server


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    """`stepwise demo`, then `stepwise serve` on the same data directory."""
    env = {"STEPWISE_DATA_DIR": str(tmp_path_factory.mktemp("demo"))}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}
    loaded = subprocess.run([sys.executable, "-m", "stepwise", "demo"], env={**clean, **env}, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    with running_server(env) as base:
        yield base
