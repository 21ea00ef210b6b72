"""The package as pip installs it: a wheel built from this checkout, unpacked somewhere else and
served from there, answers the GraphQL API and every page with every file the pages load
(package data that a wheel forgot shows up only to users, never in an editable install)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from conftest import running_server

ROOT = Path(__file__).resolve().parent.parent
# What the pages load (their HTML names these files): each must come from the installed package.
SERVED = ["/graphql", "/static/graphiql/vendor/graphiql.min.js", "/static/graphiql/vendor/react.production.min.js",
          "/dashboard/", "/dashboard/dashboard.js", "/dashboard/dashboard.css", "/dashboard/vendor/graphql-ws.min.js",
          "/worker/", "/worker/worker.js", "/worker/worker.css"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel's files unpacked into a folder of their own (what site-packages would hold)."""
    folder = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the tracked files: setuptools reuses a checkout's build/ folder, whose
    # leftovers would hide a file missing from the package data.
    source = folder / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(source)],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if built.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"building the wheel failed: {built.stderr[-2000:]}")
        pytest.skip("building a wheel needs setuptools from the package index, which is not reachable here")
    (wheel,) = folder.glob("stepwise-*.whl")
    site = folder / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


def test_the_wheel_serves_the_api_and_every_page_from_its_own_files(installed, tmp_path):
    env = {"PYTHONPATH": str(installed), "STEPWISE_DATA_DIR": str(tmp_path / "data")}
    where = subprocess.run([sys.executable, "-c", "import stepwise; print(stepwise.__file__)"], env={**os.environ, **env},
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(installed))  # not this checkout
    with running_server(env, cwd=tmp_path) as base:
        # Migrations came with it: the database was created and answers.
        answer = httpx.post(f"{base}/graphql", json={"query": "{ me { id } }"}, timeout=10).json()
        assert answer == {"data": {"me": None}}
        for path in SERVED:
            page = httpx.get(base + path, headers={"accept": "text/html"}, timeout=10, follow_redirects=True)
            assert page.status_code == 200 and len(page.content) > 200, path
