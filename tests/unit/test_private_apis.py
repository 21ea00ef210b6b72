"""Pins on the private parts of Tortoise, aiosqlite, graphql-core, strawberry and uvicorn that this project
relies on. Each test names what it relies on and who does; when an upgrade removes or changes it,
the test says which file to revisit before anything else breaks in a less readable way."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import threading
from importlib.metadata import version

import aiosqlite
import strawberry
from graphql import GraphQLEnumType, GraphQLString
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.middleware import MiddlewareManager
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from tortoise import Tortoise, connections
from tortoise.backends.base.client import TransactionContext
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper, translate_exceptions
from tortoise.transactions import in_transaction

from stepwise.models.db import tortoise_config
from stepwise.models.db.accounts import Organization
from stepwise.models.db.sqlite_engine import InlineSqliteClient
from stepwise.models.db.sqlite_transaction import WriteTransaction
from stepwise.schema.execution import PlainLeafExecutionContext

ENGINE = "models/db/sqlite_engine.py, sqlite_transaction.py"


def relies(condition: object, what: str, who: str) -> None:
    assert condition, f"{who} relies on {what}, which this version no longer has: revisit {who}"


# --- Tortoise's SQLite client (models/db/sqlite_*.py) -------------------------------------------

def test_sqlite_client_keeps_its_settings_connection_and_lock_where_the_engine_reads_them():
    client = SqliteClient("x.sqlite3", connection_name="default", busy_timeout=5, journal_mode="WAL")
    relies(client.filename == "x.sqlite3", "SqliteClient.filename", ENGINE)
    relies(client.pragmas.get("busy_timeout") == 5 and "connection_name" not in client.pragmas,
           "SqliteClient.pragmas (every other keyword argument becomes a PRAGMA)", ENGINE)
    relies(client._connection is None, "SqliteClient._connection (the connection, set by create_connection)", ENGINE)
    relies(isinstance(client._lock, asyncio.Lock), "SqliteClient._lock (the statement lock)", ENGINE)
    for method in ("_post_connect", "_in_transaction", "acquire_connection"):
        relies(callable(getattr(client, method, None)), f"SqliteClient.{method}", ENGINE)
    # The engine's own keyword is taken before the rest become PRAGMAs.
    ours = InlineSqliteClient("x.sqlite3", connection_name="default", loop_budget_ms=20)
    assert "loop_budget_ms" not in ours.pragmas and ours.loop_budget_ms == 20


def test_transaction_wrapper_and_context_have_what_the_write_transaction_uses():
    client = SqliteClient("x.sqlite3", connection_name="default")
    wrapper = SqliteTransactionWrapper(client)
    relies(wrapper._finalized is False, "SqliteTransactionWrapper._finalized", ENGINE)
    relies(hasattr(wrapper, "_connection"), "SqliteTransactionWrapper._connection", ENGINE)
    for method in ("commit", "rollback", "savepoint"):
        relies(inspect.iscoroutinefunction(getattr(wrapper, method)), f"SqliteTransactionWrapper.{method}", ENGINE)
    relies(hasattr(TransactionContext, "__aenter__") and hasattr(TransactionContext, "__aexit__"),
           "TransactionContext (the base of WriteTransaction)", ENGINE)
    relies(list(inspect.signature(translate_exceptions(lambda self, query: None)).parameters)[:2] == ["self", "query"],
           "tortoise.backends.sqlite.client.translate_exceptions", ENGINE)


async def test_in_transaction_goes_through_the_engines_transaction_and_sets_the_current_connection(tmp_path):
    """sql.transaction() is Tortoise's in_transaction(): it must call _in_transaction(), and code
    inside must find the transaction as connections.get("default") (models/db/sql.py)."""
    await Tortoise.init(config=tortoise_config(f"sqlite://{tmp_path / 'db.sqlite3'}"))
    try:
        await Tortoise.generate_schemas()
        context = in_transaction("default")
        relies(isinstance(context, WriteTransaction), "in_transaction() -> client._in_transaction()", ENGINE)
        async with context as connection:
            relies(connections.get("default") is connection,
                   "get_connections().set() making connections.get() return the transaction", "models/db/sql.py")
            await Organization.create(name="pinned")
        relies(isinstance(connections.get("default"), InlineSqliteClient), "get_connections().reset()", ENGINE)
    finally:
        await Tortoise.close_connections()


def test_model_meta_and_row_conversion_used_by_plain_sql_reads():
    relies("name" in Organization._meta.fields_db_projection.values(), "Model._meta.fields_db_projection",
           "models/db/sql.py (model_columns)")
    relies(callable(getattr(Organization, "_init_from_db", None)), "Model._init_from_db", "models/db/sql.py (model_from_row)")
    relies(isinstance(EXECUTOR_CACHE, dict), "tortoise.backends.base.executor.EXECUTOR_CACHE", "tests/conftest.py")


def test_aiosqlite_runs_a_function_on_its_thread_with_the_sqlite3_connection(tmp_path):
    relies(list(inspect.signature(aiosqlite.Connection._execute).parameters)[:2] == ["self", "fn"],
           "aiosqlite.Connection._execute(fn, *args)", "models/db/sql.py (execute_all)")

    async def run() -> int:
        async with aiosqlite.connect(tmp_path / "a.sqlite3") as connection:
            relies(hasattr(connection, "_conn"), "aiosqlite.Connection._conn", "models/db/sql.py, sqlite_engine.py")
            relies(isinstance(getattr(connection, "_thread", None), threading.Thread),
                   "aiosqlite.Connection._thread (joined on close)", "models/db/sqlite_engine.py")
            return await connection._execute(lambda conn: conn.execute("SELECT 41 + 1").fetchone()[0], connection._conn)

    assert asyncio.run(run()) == 42


# --- graphql-core and strawberry (schema/execution.py) -----------------------------------------

EXECUTION = "schema/execution.py"


def test_graphql_core_is_the_version_the_execution_override_was_written_for():
    assert version("graphql-core") == "3.3.2", f"pyproject.toml pins graphql-core 3.3.2: revisit {EXECUTION}"


def test_execute_field_keeps_the_signature_the_override_replaces():
    base = StrawberryGraphQLCoreExecutionContext.execute_field
    relies(list(inspect.signature(base).parameters) ==
           ["self", "parent_type", "source", "field_details_list", "path", "position_context"],
           "execute_field(parent_type, source, field_details_list, path, position_context)", EXECUTION)
    relies("node" in FieldDetails._fields, "FieldDetails.node (the field's AST node)", EXECUTION)
    relies("middlewares" in MiddlewareManager.__slots__, "MiddlewareManager.middlewares", EXECUTION)
    relies(GraphQLString.coerce_output_value(3) == "3" and GraphQLEnumType("C", {"A": 1}).coerce_output_value(1) == "A",
           "GraphQLScalarType/GraphQLEnumType.coerce_output_value", EXECUTION)


def test_strawberry_marks_its_basic_fields_as_the_override_reads_them():
    relies(isinstance(GraphQLCoreConverter.DEFINITION_BACKREF, str), "GraphQLCoreConverter.DEFINITION_BACKREF", EXECUTION)

    @strawberry.type
    class Query:
        name: str = "x"

    schema = strawberry.Schema(query=Query)
    field = schema._schema.query_type.fields["name"]
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    relies(definition is not None, "field.extensions[DEFINITION_BACKREF]", EXECUTION)
    relies(definition.is_basic_field and definition.default_resolver is getattr and definition.python_name == "name",
           "StrawberryField.is_basic_field / default_resolver / python_name", EXECUTION)
    relies(getattr(field.resolve, "_is_default", False), "resolver._is_default on strawberry's basic fields", EXECUTION)


@strawberry.type
class Item:
    name: str


@strawberry.type
class ItemsQuery:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a"), Item(name="b")]


def test_graphql_core_calls_the_overridden_execute_field():
    """The override is a method graphql-core calls by name: if it stopped calling it, pages would
    silently lose the fast path. Count the calls on a real execution."""
    calls: list[str] = []

    class Counting(PlainLeafExecutionContext):
        def execute_field(self, parent_type, source, field_details_list, path, position_context):  # noqa: ANN001, ANN201
            calls.append(field_details_list[0].node.name.value)
            return super().execute_field(parent_type, source, field_details_list, path, position_context)

    schema = strawberry.Schema(query=ItemsQuery, execution_context_class=Counting)
    result = schema.execute_sync("{ items { name } }")
    assert result.errors is None and result.data == {"items": [{"name": "a"}, {"name": "b"}]}
    relies(calls == ["items", "name", "name"], "graphql-core calling ExecutionContext.execute_field per field", EXECUTION)


def test_a_subscription_event_runs_on_a_copy_with_the_memos_the_override_replaces():
    """schema/execution.py gives each event's executor memos of its own: graphql-core must still
    make them with build_per_event_executor and keep them in these two attributes."""
    from graphql import parse
    graphql_execute = importlib.import_module("graphql.execution.execute")  # the package exports a function so named

    schema = strawberry.Schema(query=ItemsQuery, execution_context_class=PlainLeafExecutionContext)
    relies("executor.build_per_event_executor" in inspect.getsource(graphql_execute.map_source_to_response_event),
           "graphql-core building each subscription event's executor with build_per_event_executor", EXECUTION)
    executor = PlainLeafExecutionContext.build(schema._schema, parse("{ items { name } }"))
    relies(isinstance(executor._relevant_sub_fields, dict) and hasattr(executor, "_stream_usages"),
           "Executor._relevant_sub_fields and _stream_usages (the per-execution memos)", EXECUTION)
    event = executor.build_per_event_executor(None)
    assert event._relevant_sub_fields is not executor._relevant_sub_fields


def test_uvicorn_httptools_protocol_has_the_hooks_the_headers_deadline_overrides():
    """serving.py (HeadersDeadline) subclasses uvicorn's httptools protocol: it arms a timer in
    connection_made and after on_response_complete, disarms it in on_headers_complete (called
    for an upgrade too) and connection_lost, and reads `loop`, `transport` and `cycle`."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for hook in ("connection_made", "on_headers_complete", "on_response_complete", "connection_lost"):
        assert callable(getattr(HttpToolsProtocol, hook)), hook
    init = inspect.getsource(HttpToolsProtocol.__init__)
    assert "self.loop" in init and "self.cycle" in init
    assert "self.transport" in inspect.getsource(HttpToolsProtocol.connection_made)
    headers_complete = inspect.getsource(HttpToolsProtocol.on_headers_complete)
    assert "should_upgrade" in headers_complete  # an upgrade passes here before leaving the protocol


# --- strawberry's from_input hook and asyncpg's pool reset (schema/bulk_inputs.py, models/db) ----

def test_strawberry_calls_an_input_types_from_input_hook():
    from strawberry.types.arguments import convert_argument

    from stepwise.schema.inputs import PointInput

    calls = []
    definition = PointInput.__strawberry_definition__
    hook = definition.from_input
    relies(hook is not None, "StrawberryObjectDefinition.from_input", "schema/bulk_inputs.py")
    definition.from_input = lambda cls, value, context: calls.append(value) or hook(cls, value, context)
    try:
        built = convert_argument({"x": 1.0, "y": 2.0}, PointInput, {}, strawberry.schema.config.StrawberryConfig())
    finally:
        definition.from_input = hook
    relies(calls == [{"x": 1.0, "y": 2.0}] and built == PointInput(x=1.0, y=2.0),
           "convert_argument calling from_input(cls, value, context)", "schema/bulk_inputs.py")


def test_graphql_core_looks_up_its_variable_nesting_check_in_its_module():
    """schema/variable_depth.py replaces values.input_is_nested_too_deeply; coerce_variable_values
    must still call it through the module (else the shortcut silently stops applying)."""
    from graphql import GraphQLArgument, GraphQLField, GraphQLInt, GraphQLList, GraphQLObjectType, GraphQLSchema, graphql_sync
    from graphql.execution import values

    calls = []
    installed = values.input_is_nested_too_deeply
    values.input_is_nested_too_deeply = lambda value, type_: calls.append(value) or installed(value, type_)
    try:
        query = GraphQLObjectType("Query", {"n": GraphQLField(GraphQLInt, args={"a": GraphQLArgument(GraphQLList(GraphQLInt))},
                                                                resolve=lambda _, __, a: len(a))})
        result = graphql_sync(GraphQLSchema(query), "query($a: [Int]) { n(a: $a) }", variable_values={"a": [1, 2]})
    finally:
        values.input_is_nested_too_deeply = installed
    relies(result.data == {"n": 2} and calls == [[1, 2]], "values.input_is_nested_too_deeply(value, type_)",
           "schema/variable_depth.py")


def test_asyncpg_pool_takes_a_reset_hook_through_tortoise_credentials():
    import asyncpg

    from stepwise.models.db import connection_config, keep_session

    relies("reset" in inspect.signature(asyncpg.create_pool).parameters, "asyncpg.create_pool(reset=...)",
           "models/db/__init__.py (keep_session)")
    config = connection_config("postgres://u:p@db.example:5432/stepwise?maxsize=9")
    assert config["credentials"]["reset"] is keep_session
    assert (config["credentials"]["host"], config["credentials"]["maxsize"]) == ("db.example", "9")


def test_a_tortoise_asyncpg_transaction_lends_its_connection_for_copy():
    import asyncpg
    from tortoise.backends.asyncpg.client import TransactionWrapper

    relies(callable(getattr(TransactionWrapper, "acquire_connection", None))
           and "records" in inspect.signature(asyncpg.Connection.copy_records_to_table).parameters,
           "TransactionWrapper.acquire_connection() yielding the asyncpg connection; copy_records_to_table(records=)",
           "models/db/sql.py (copy_rows)")
    from stepwise.models.db import connection_config

    config = connection_config("postgres://u:p@db.example:5432/stepwise")
    relies("server_settings" in inspect.signature(asyncpg.connect).parameters,
           "asyncpg.connect(server_settings=...) through Tortoise's credentials", "models/db/__init__.py (jit off)")
    assert config["credentials"]["server_settings"] == {"jit": "off"}
