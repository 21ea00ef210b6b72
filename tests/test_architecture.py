"""Import rules: the pure core imports nothing from the database, the web or GraphQL."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PURE = ["models/workflow.py", "models/history.py", "models/errors.py", "models/events.py", "models/shapes.py",
        "models/validation.py", "permissions/roles.py", "permissions/policy.py"]
FORBIDDEN = ("tortoise", "aiosqlite", "asyncpg", "pypika", "starlette", "uvicorn", "strawberry", "graphql",
             "broadcaster", "redis", "httpx", "stepwise.models.db", "stepwise.schema", "stepwise.resolvers",
             "stepwise.subscriptions", "stepwise.app")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_pure_core_stays_pure():
    present = [ROOT / p for p in PURE if (ROOT / p).exists()]
    assert len(present) >= 5
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.startswith(FORBIDDEN))
        for path in present
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_resolvers_never_import_models_by_their_top_level_name():
    # `models` or `schema` as top-level imports would pick up unrelated PyPI packages.
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        bad = [m for m in imported_modules(path) if m.split(".")[0] in ("models", "schema", "resolvers", "permissions")]
        assert bad == [], path
