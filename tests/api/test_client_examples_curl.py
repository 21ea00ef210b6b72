"""client-examples/curl.md, run as written (every ```sh block, in order, in one bash) against
`stepwise serve` with the demo data: it signs in, reads the campaigns, sets a due date, uploads
the instructions PDF and downloads it back; and the server holds what it says."""

import os
import re
import shutil
import subprocess

import httpx
import pytest

from tests.conftest import IN_CI, ROOT

GUIDE = ROOT / "client-examples" / "curl.md"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_the_curl_examples_run_as_written(demo_server, tmp_path):
    missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"{', '.join(missing)} missing in CI (apt-get install -y curl jq)")
        pytest.skip(f"client-examples/curl.md needs {', '.join(missing)} (apt-get install -y curl jq)")
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    script = "\n".join(blocks).replace("http://127.0.0.1:8000", demo_server)
    (tmp_path / "instructions.pdf").write_bytes(PDF)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^signed in: swt_[\w-]{4}\.\.\.$", out, re.MULTILINE)  # tokens are base64url
    assert '{"token":null,"errors":[{"code":"INVALID_CREDENTIALS"' in out
    assert '"name":"Acme Vision (demo)"' in out and '"status":"ONGOING"' in out
    assert '{"campaign":{"dueDate":"2030-01-31T18:00:00+00:00","status":"ONGOING"},"errors":[]}' in out
    assert '"instructions":{"filename":"instructions.pdf","size":%d' % len(PDF) in out
    assert f"HTTP 200, {len(PDF)} bytes" in out
    assert (tmp_path / "downloaded.pdf").read_bytes() == PDF

    token = httpx.post(f"{demo_server}/graphql", timeout=30, json={
        "query": 'mutation { logIn(input: {username: "max", password: "stepwise-demo-2026"}) { token } }'}).json()
    answer = httpx.post(f"{demo_server}/graphql", timeout=30, headers={"authorization": f"Bearer {token['data']['logIn']['token']}"},
                        json={"query": "{ organizations { campaigns { edges { node { dueDate instructions { size } } } } } }"}).json()
    [campaign] = [edge["node"] for edge in answer["data"]["organizations"][0]["campaigns"]["edges"]]
    assert campaign == {"dueDate": "2030-01-31T18:00:00+00:00", "instructions": {"size": len(PDF)}}
