"""GraphiQL from the package: the page GET /graphql shows in a browser and the assets it loads,
vendored from npm (static/graphiql/vendor, scripts/vendor-graphiql.sh) so it works offline."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
# Where the page loads its scripts and styles from (the paths in graphiql.html).
ASSETS_PATH = "/static/graphiql/vendor"


def graphiql_page() -> str:
    """The page's HTML, read when the app is built."""
    return (STATIC_DIR / "graphiql.html").read_text(encoding="utf-8")


def content_security_policy(page: str) -> str:
    """The page's policy: scripts and styles from this server only, plus the page's own inline
    script by its hash (so no other inline script can run); GraphiQL styles its panes inline;
    requests go to this server (HTTP and its websocket) and nowhere else; never framed."""
    inline = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" for body in inline)
    return ("default-src 'none'; "
            f"script-src 'self' {hashes}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def graphiql_assets() -> Mount:
    """The vendored files (and their licences), with ETag and Last-Modified for browser caches."""
    return Mount(ASSETS_PATH, app=StaticFiles(directory=STATIC_DIR / "vendor"), name="graphiql-assets")
