"""The browser examples served by `stepwise serve`: the live campaign dashboard at /dashboard/ and
the annotator's queue page at /worker/ (client-examples/, plain HTML and JavaScript calling this
server's /graphql; their one library is vendored by scripts/vendor-client-examples.sh)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

EXAMPLES_DIR = Path(__file__).resolve().parent / "client-examples"
PAGES = {"/dashboard": "dashboard", "/worker": "worker"}


def client_pages() -> list[Mount]:
    """One static mount per page; `html=True` answers the directory with its index.html (and
    /dashboard redirects to /dashboard/, so the page's relative links resolve)."""
    return [Mount(path, app=StaticFiles(directory=EXAMPLES_DIR / folder, html=True), name=folder)
            for path, folder in PAGES.items()]
