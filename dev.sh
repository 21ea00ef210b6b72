#!/usr/bin/env bash
# The two commands of the README, on a fresh machine with Python >= 3.11:
#   ./dev.sh serve [stepwise serve options]   set up, load demo data, serve on embedded SQLite
#   ./dev.sh test  [pytest options]           set up, run the tests
# Each creates .venv and installs the project into it when missing or when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3}
ensure_venv() {
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "error: Python 3.11 or newer is needed ('$python' is $("$python" --version 2>&1)); set PYTHON=..." >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "Creating .venv ..." >&2
        "$python" -m venv .venv || { echo "error: cannot create a venv; on Debian: apt install python3-venv" >&2; exit 1; }
    fi
    local stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        echo "Installing stepwise and its test tools into .venv ..." >&2
        .venv/bin/pip install --quiet --disable-pip-version-check -e ".[test]"
        rm -f .venv/.installed-* && touch "$stamp"
    fi
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
    serve)
        ensure_venv
        .venv/bin/stepwise demo
        exec .venv/bin/stepwise serve "$@"
        ;;
    test)
        ensure_venv
        exec .venv/bin/pytest "$@"
        ;;
    *)
        echo "usage: ./dev.sh serve [--port 8000] | ./dev.sh test [pytest args]" >&2
        exit 2
        ;;
esac
