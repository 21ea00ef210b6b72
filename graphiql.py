"""GraphiQL from the package: the page GET /graphql shows in a browser and the assets it loads,
vendored from npm (static/graphiql/vendor, scripts/vendor-graphiql.sh) so it works offline."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
# Where the page loads its scripts and styles from (the paths in graphiql.html).
ASSETS_PATH = "/static/graphiql/vendor"


def graphiql_page() -> str:
    """The page's HTML, read when the app is built."""
    return (STATIC_DIR / "graphiql.html").read_text(encoding="utf-8")


def graphiql_assets() -> Mount:
    """The vendored files (and their licences), with ETag and Last-Modified for browser caches."""
    return Mount(ASSETS_PATH, app=StaticFiles(directory=STATIC_DIR / "vendor"), name="graphiql-assets")
