#!/usr/bin/env bash
# Regenerate the README's screenshot of the dashboard (docs/dashboard.png): runs the dashboard's
# browser test (Debian's chromium, a real server with demo data, live updates and a dropped
# connection) and keeps the screenshot it takes at the end. Run from anywhere, after
# `./dev.sh serve` or `./dev.sh test` created .venv: bash scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
shots=$(mktemp -d)
trap 'rm -rf "$shots"' EXIT
STEPWISE_TEST_SCREENSHOTS="$shots" .venv/bin/python -m pytest -q -p no:cacheprovider tests/browser/test_dashboard.py
cp "$shots/dashboard.png" docs/dashboard.png
echo "wrote docs/dashboard.png" >&2
