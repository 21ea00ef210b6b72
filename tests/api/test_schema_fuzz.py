"""Schema fuzzing: queries and mutations generated from the exported schema (hypothesis-graphql)
against the app, as an anonymous caller, a LABELER and a MANAGER, on a world with a launched
campaign whose real IDs the generator may pick. Whatever the document, the answer is never a 500,
never a hang, never a stack trace, and every error carries a code that is not INTERNAL_SERVER_ERROR
(which is what an unexpected exception would become).

Examples per role and operation type: STEPWISE_TEST_FUZZ_EXAMPLES (default 40; docs/reliability.md
gives the command for a long run).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from graphql import build_schema
from campaign_helpers import LAUNCH, add_assets, all_tasks, campaign_with_steps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from tests.conftest import build_world

EXAMPLES = int(os.environ.get("STEPWISE_TEST_FUZZ_EXAMPLES", "40"))
SCHEMA = (Path(__file__).resolve().parents[2] / "schema" / "schema.graphql").read_text()
ANSWER_SECONDS = 20  # a document that takes longer counts as a hang
LEAKS = ("Traceback", 'File "', "stepwise.", ".py", "tortoise", "sqlite3", "asyncpg")


def scalars(ids: list[str]) -> dict:
    """Values for the custom scalars: IDs of the world's real objects (else every lookup would be
    NOT_FOUND at once) mixed with odd ones, dates both valid and not, and non-files for Upload."""
    odd_ids = st.sampled_from(["", "x", "VGFzazox", "Task:1", "🙂", "A" * 300])
    return {
        "ID": st.one_of(st.sampled_from(ids), odd_ids).map(nodes.String),
        "DateTime": st.one_of(st.sampled_from(["2030-01-01T00:00:00Z", "2030-01-01T00:00:00+02:00"]),
                              st.text(max_size=30)).map(nodes.String),
        "Upload": st.sampled_from(["file", ""]).map(nodes.String),
    }


@pytest.fixture
async def fuzz_world(sqlite_api):
    """The world on SQLite (what is fuzzed is the GraphQL layer, the same on both backends), with
    a launched campaign."""
    api = sqlite_api
    world = await build_world(api)
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg"])
    campaign, steps = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])])
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    tasks = await all_tasks(api, world, campaign)
    ids = [campaign, *steps, *(t["id"] for t in tasks), *(world.ids[k] for k in ("org", "dataset", "version",
           "manager", "labeler", "other_org", "other_dataset"))]
    return api, world, ids


async def answer_is_clean(api, document: str, token: str | None) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await asyncio.wait_for(api.client.post("/graphql", json={"query": document}, headers=headers),
                                      ANSWER_SECONDS)
    assert response.status_code < 500, (document, response.text)
    for leak in LEAKS:
        assert leak not in response.text, (leak, document, response.text)
    body = response.json()
    assert "data" in body or "errors" in body, (document, body)
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code and code != "INTERNAL_SERVER_ERROR", (document, error)


STRATEGIES: dict[tuple, st.SearchStrategy] = {}


def documents(kind: str, ids: list[str]) -> st.SearchStrategy:
    key = (kind, *ids)
    if key not in STRATEGIES:  # built once per test: building parses the schema
        if kind == "query":
            STRATEGIES[key] = queries(SCHEMA, custom_scalars=scalars(ids))
        else:  # logOut would revoke the caller's token: the rest of the run would be anonymous
            fields = [name for name in build_schema(SCHEMA).mutation_type.fields if name != "logOut"]
            STRATEGIES[key] = mutations(SCHEMA, fields=fields, custom_scalars=scalars(ids))
    return STRATEGIES[key]


@pytest.mark.parametrize("who", ["anonymous", "labeler", "manager"])
@pytest.mark.parametrize("kind", ["query", "mutation"])
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=st.data())
async def test_generated_documents_get_clean_coded_answers(fuzz_world, who, kind, data):
    api, world, ids = fuzz_world
    document = data.draw(documents(kind, ids), label="document")
    await answer_is_clean(api, document, None if who == "anonymous" else getattr(world, who))
