"""Import rules: the pure core imports nothing from the database, the web or GraphQL."""

import ast
import importlib
import inspect
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PURE = ["models/workflow.py", "models/history.py", "models/errors.py", "models/events.py", "models/shapes.py",
        "models/validation.py", "models/notifications.py", "permissions/roles.py", "permissions/policy.py", "permissions/operations.py",
        "permissions/visibility.py", "models/interchange/common.py", "models/interchange/coco.py",
        "models/interchange/yolo.py"]
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


# Layers: models/ owns every query, resolvers/ every fetch, schema/types declares types.
ORM_IMPORTS = ("tortoise", "stepwise.models.db.sql", "stepwise.models.db.sqlite_engine")
ORM_QUERY_METHODS = {
    "filter", "exclude", "get", "get_or_none", "get_or_create", "update_or_create", "all", "first", "create",
    "bulk_create", "bulk_update", "exists", "update", "delete", "select_for_update", "values", "values_list",
    "count", "annotate", "raw", "in_transaction", "save", "fetch_related", "refresh_from_db",
}
LAYERED_SKIP = ("models", "tests", "bench", ".venv")


def layered_modules() -> list[Path]:
    """Every module of the package outside models/ (and tests/, bench/)."""
    return sorted(p for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] not in LAYERED_SKIP)


def imported_names(tree: ast.AST) -> set[str]:
    """Full names of what a module imports: `from a import b` gives `a` and `a.b`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def orm_imports(source: str) -> list[str]:
    """(a) Imports of the ORM or the raw SQL layer."""
    return sorted(n for n in imported_names(ast.parse(source)) if n.startswith(ORM_IMPORTS))


def _bound_by_imports_from(tree: ast.AST, prefix: str) -> set[str]:
    """Local names bound by imports from modules under `prefix` (classes, functions or module aliases)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module + ".").startswith(prefix + "."):
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            bound.update(alias.asname for alias in node.names if alias.asname and alias.name.startswith(prefix))
    return bound


def orm_query_calls(source: str) -> list[str]:
    """(b) Calls of an ORM query method on a name imported from stepwise.models.db (`Task.filter(...)`)
    or on an attribute of such a module alias (`db.Task.filter(...)`)."""
    tree = ast.parse(source)
    orm = _bound_by_imports_from(tree, "stepwise.models.db")
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ORM_QUERY_METHODS):
            continue
        owner = node.func.value
        while isinstance(owner, ast.Attribute):  # db.Task.filter: the root name is the module alias
            owner = owner.value
        if isinstance(owner, ast.Name) and owner.id in orm:
            found.append((node.lineno, f"line {node.lineno}: {ast.unparse(node.func)}"))
    return [text for _, text in sorted(found)]


def fetches_in_types(source: str) -> list[str]:
    """(c) In schema/types: an `await` on anything but a function imported from stepwise.resolvers,
    or any use of `info.context.loaders`."""
    tree = ast.parse(source)
    allowed = _bound_by_imports_from(tree, "stepwise.resolvers")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Await):
            call = node.value
            func = call.func if isinstance(call, ast.Call) else None
            root = func.value if isinstance(func, ast.Attribute) else func
            if not (isinstance(root, ast.Name) and root.id in allowed):
                found.append((node.lineno, f"line {node.lineno}: await {ast.unparse(call)}"))
        elif (isinstance(node, ast.Attribute) and node.attr == "loaders"
              and isinstance(node.value, ast.Attribute) and node.value.attr == "context"):
            found.append((node.lineno, f"line {node.lineno}: {ast.unparse(node)}"))
    return [text for _, text in sorted(found)]


def fetchers_imported_into_types(source: str) -> list[str]:
    """(c, continued) Coroutine functions a schema/types module imports from outside stepwise.resolvers:
    returned un-awaited, they would fetch past the await check."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stepwise."):
            if node.module.startswith("stepwise.resolvers"):
                continue
            module = importlib.import_module(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names
                      if inspect.iscoroutinefunction(getattr(module, alias.name, None))]
    return sorted(found)


def module_file(name: str) -> Path | None:
    """The file of a `stepwise.` module name, or None for a name that is not a module."""
    parts = name.split(".")[1:]
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if parts and candidate.exists():
            return candidate
    return None


def types_reached(start: list[str], read=lambda path: path.read_text()) -> dict[str, list[str]]:
    """(d) For each resolvers module in `start`, the import chain by which it reaches
    stepwise.schema.types, if it does (a cycle: schema/types import it)."""
    reached = {}
    for first in start:
        chains, seen = [[first]], {first}
        while chains:
            chain = chains.pop()
            path = module_file(chain[-1])
            if path is None:
                continue
            for name in sorted(imported_names(ast.parse(read(path)))):
                if name.startswith("stepwise.schema.types"):
                    reached.setdefault(first, chain + [name])
                elif name.startswith("stepwise.") and name not in seen and module_file(name) is not None:
                    seen.add(name)
                    chains.append(chain + [name])
    return reached


def resolvers_imported_by_types() -> list[str]:
    modules = set()
    for path in (ROOT / "schema" / "types").glob("*.py"):
        modules.update(n for n in imported_names(ast.parse(path.read_text()))
                       if n.startswith("stepwise.resolvers") and module_file(n) is not None)
    return sorted(modules)


def test_only_models_import_the_orm_and_the_sql_layer():
    offenders = {str(p.relative_to(ROOT)): orm_imports(p.read_text()) for p in layered_modules()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_models_run_orm_queries():
    offenders = {str(p.relative_to(ROOT)): orm_query_calls(p.read_text()) for p in layered_modules()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_schema_types_fetch_only_through_resolvers():
    paths = sorted((ROOT / "schema" / "types").glob("*.py"))
    assert len(paths) >= 8
    offenders = {str(p.relative_to(ROOT)): fetches_in_types(p.read_text()) for p in paths}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_schema_types_import_no_fetching_function_but_resolvers():
    offenders = {str(p.relative_to(ROOT)): fetchers_imported_into_types(p.read_text())
                 for p in sorted((ROOT / "schema" / "types").glob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_resolvers_that_types_use_do_not_import_types():
    start = resolvers_imported_by_types()
    assert "stepwise.resolvers.loaders" in start or any(s.startswith("stepwise.resolvers.fields") for s in start)
    assert types_reached(start) == {}


# Each check can fail: a small bad module, and what the check says about it.

BAD_LAYERING = '''
from tortoise.models import Model
from stepwise.models.db import sql
from stepwise.models.db import campaigns as db
from stepwise.models.db.campaigns import Task as TaskRow
from stepwise.resolvers.fields.common import row_by_id

async def resolve(info, pk):
    await row_by_id(info, db.Step, pk)                       # allowed: a resolvers function
    rows = await TaskRow.filter(campaign_id=pk).order_by("id")
    one = await db.Campaign.get_or_none(id=pk)
    steps = await info.context.loaders.steps_by_campaign.load(pk)
    return await sql.fetch("SELECT 1")
'''


def test_the_orm_import_check_can_fail():
    assert orm_imports(BAD_LAYERING) == ["stepwise.models.db.sql", "tortoise.models", "tortoise.models.Model"]


def test_the_orm_query_check_can_fail():
    assert orm_query_calls(BAD_LAYERING) == ["line 10: TaskRow.filter", "line 11: db.Campaign.get_or_none"]


def test_the_types_fetch_check_can_fail():
    found = fetches_in_types(BAD_LAYERING)
    assert [f.split(":")[0] for f in found] == ["line 10", "line 11", "line 12", "line 12", "line 13"]
    assert "info.context.loaders" in " ".join(found)


def test_the_types_cycle_check_can_fail():
    sources = {ROOT / "resolvers" / "fields" / "common.py": "from stepwise.resolvers.nodes import fetch_asset\n",
               ROOT / "resolvers" / "nodes.py": "from stepwise.schema.types.assets import Asset\n"}
    reached = types_reached(["stepwise.resolvers.fields.common"], read=lambda path: sources.get(path, ""))
    assert reached == {"stepwise.resolvers.fields.common": [
        "stepwise.resolvers.fields.common", "stepwise.resolvers.nodes", "stepwise.schema.types.assets"]}


def test_the_types_fetching_import_check_can_fail():
    sample = ("from stepwise.models.queries.tasks import TaskCriteria, task_count\n"
              "from stepwise.resolvers.fields.tasks import campaign_task_count\n")
    assert fetchers_imported_into_types(sample) == ["stepwise.models.queries.tasks.task_count"]
