"""The example pages served by `stepwise serve` (client_pages.py): /dashboard/ and /worker/ load
everything from this server, the vendored library comes with its licence and pinned version,
and nothing outside the pages' folders is reachable through them."""

import re

import httpx

from tests.conftest import ROOT


def test_each_page_loads_only_files_of_this_server(demo_server):
    for page, expected in (("dashboard", ["dashboard.css", "dashboard.js", "vendor/graphql-ws.min.js"]),
                           ("worker", ["worker.css", "worker.js"])):
        moved = httpx.get(f"{demo_server}/{page}", timeout=10)
        assert moved.status_code == 307 and moved.headers["location"].endswith(f"/{page}/")
        response = httpx.get(f"{demo_server}/{page}/", timeout=10)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert response.headers["x-frame-options"] == "DENY"
        assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert sorted(assets) == expected  # relative: this server, under the page's path
        assert "default-src 'self'" in response.text  # the page's own Content-Security-Policy
        for asset in assets:
            served = httpx.get(f"{demo_server}/{page}/{asset}", timeout=10)
            assert served.status_code == 200 and "etag" in served.headers, asset
            assert served.text == (ROOT / "client-examples" / page / asset).read_text(encoding="utf-8"), asset


def test_the_vendored_library_comes_with_its_licence_and_version(demo_server):
    vendor = f"{demo_server}/dashboard/vendor"
    assert "Permission is hereby granted" in httpx.get(f"{vendor}/licenses/graphql-ws.LICENSE.md", timeout=10).text
    versions = httpx.get(f"{vendor}/VERSIONS", timeout=10).text
    assert re.fullmatch(r"graphql-ws@\d+\.\d+\.\d+ sha512-\S+\n", versions)
    pinned = re.search(r"^GRAPHQL_WS=(\S+)", (ROOT / "scripts" / "vendor-client-examples.sh").read_text(), re.MULTILINE)
    assert versions.startswith(f"graphql-ws@{pinned[1]} ")
    assert "sourceMappingURL" not in httpx.get(f"{vendor}/graphql-ws.min.js", timeout=10).text[-300:]


def test_nothing_else_is_reachable_through_the_pages(demo_server):
    for path in ("/dashboard/../README.md", "/dashboard/%2e%2e/curl.md", "/worker/../python/campaign_feed.py",
                 "/dashboard/missing.js"):
        assert httpx.get(f"{demo_server}{path}", timeout=10).status_code == 404, path
