"""Organization.campaigns: the campaigns the viewer can open, newest first, a keyset page at a time."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from campaign_helpers import CREATE, LAUNCH, UPDATE, add_assets, campaign_with_steps
from stepwise.models import clock as server_clock

CAMPAIGNS = """query($o: ID!, $s: CampaignStatus, $first: Int, $after: String) { organization(id: $o) {
  campaigns(status: $s, first: $first, after: $after) { totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id status } } } } }"""
NEW_VERSION = """mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) {
  datasetVersion { id } errors { code } } }"""
NEW_DATASET = "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } errors { code } } }"


async def new_campaign(api, token, dataset_id, name) -> str:
    """A DRAFT campaign on a new version of the dataset."""
    version = (await api.data(NEW_VERSION, {"i": {"datasetId": dataset_id, "name": name, "labels": ["car"]}}, token))
    version_id = version["createDatasetVersion"]["datasetVersion"]["id"]
    created = (await api.data(CREATE, {"v": version_id}, token))["createCampaign"]
    assert created["errors"] == []
    return created["campaign"]["id"]


async def page(api, world, token, **variables) -> dict:
    return (await api.data(CAMPAIGNS, {"o": world.ids["org"], **variables}, token))["organization"]["campaigns"]


def ids(connection: dict) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


@pytest.fixture
async def campaigns(api, world) -> dict[str, list[str]]:
    """Three campaigns on the world's dataset (oldest first; the labeler works there) and one on a
    dataset the labeler does not work on."""
    streets = [await new_campaign(api, world.manager, world.ids["dataset"], f"v{i}") for i in (2, 3, 4)]
    parks_id = (await api.data(NEW_DATASET, {"i": {"organizationId": world.ids["org"], "name": "Parks"}},
                               world.manager))["createDataset"]["dataset"]["id"]
    parks = [await new_campaign(api, world.manager, parks_id, "p1")]
    return {"streets": streets, "parks": parks}


async def test_newest_first_a_page_at_a_time(api, world, campaigns):
    everything = [*campaigns["streets"], *campaigns["parks"]][::-1]
    first = await page(api, world, world.manager, first=3)
    assert ids(first) == everything[:3]
    assert first["totalCount"] == 4
    assert first["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False,
                                 "startCursor": first["edges"][0]["cursor"], "endCursor": first["edges"][2]["cursor"]}
    rest = await page(api, world, world.manager, first=3, after=first["pageInfo"]["endCursor"])
    assert ids(rest) == everything[3:]
    assert rest["pageInfo"]["hasNextPage"] is False and rest["pageInfo"]["hasPreviousPage"] is True
    assert rest["totalCount"] == 4
    empty = await page(api, world, world.manager, first=0)
    assert empty["edges"] == [] and empty["totalCount"] == 4 and empty["pageInfo"]["endCursor"] is None


async def test_each_role_lists_the_campaigns_it_can_open(api, world, campaigns):
    streets = campaigns["streets"][::-1]
    assert ids(await page(api, world, world.admin)) == [*campaigns["parks"], *streets]
    assert ids(await page(api, world, world.contributor)) == streets
    # A LABELER worker opens the campaign (steps, instructions) with Query.campaign: it is listed too.
    labeler = await page(api, world, world.labeler)
    assert ids(labeler) == streets and labeler["totalCount"] == 3
    opened = await api.data("query($c: ID!) { campaign(id: $c) { id } }", {"c": streets[0]}, world.labeler)
    assert opened == {"campaign": {"id": streets[0]}}
    # A MEMBER who works on no dataset sees none; another organization's admin not the organization.
    member = await page(api, world, world.member)
    assert member["edges"] == [] and member["totalCount"] == 0
    foreign = await api.post(CAMPAIGNS, {"o": world.ids["org"]}, world.outsider)
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND" and foreign["data"] == {"organization": None}


async def test_status_filter_follows_the_displayed_status_overdue_included(api, world, campaigns):
    await add_assets(api, world, ["a.jpg"])
    launched, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
    soon = datetime.now(UTC) + timedelta(hours=1)
    # Given with another offset: compared as a moment, not as text.
    due = soon.astimezone(timezone(timedelta(hours=2))).replace(microsecond=0).isoformat()
    updated = await api.data(UPDATE, {"i": {"campaignId": launched, "dueDate": due}}, world.manager)
    assert updated["updateCampaign"]["errors"] == []
    assert (await api.data(LAUNCH, {"c": launched}, world.manager))["launchCampaign"]["errors"] == []

    drafts = [*campaigns["streets"], *campaigns["parks"]][::-1]
    assert ids(await page(api, world, world.manager, s="DRAFT")) == drafts
    assert ids(await page(api, world, world.manager, s="ONGOING")) == [launched]
    assert (await page(api, world, world.manager, s="OVERDUE"))["totalCount"] == 0
    server_clock.set_clock(lambda: datetime.now(UTC) + timedelta(hours=2))
    try:
        overdue = await page(api, world, world.manager, s="OVERDUE")
        assert [e["node"] for e in overdue["edges"]] == [{"id": launched, "status": "OVERDUE"}]
        assert overdue["totalCount"] == 1
        assert (await page(api, world, world.manager, s="ONGOING"))["totalCount"] == 0
    finally:
        server_clock.set_clock(None)
    assert (await page(api, world, world.manager, s="COMPLETED"))["edges"] == []


async def test_bad_page_arguments_are_bad_requests(api, world, campaigns):
    for variables in ({"first": 501}, {"first": -1}, {"after": "not-a-cursor"}):
        body = await api.post(CAMPAIGNS, {"o": world.ids["org"], **variables}, world.manager)
        assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
        assert body["data"] == {"organization": None}


async def test_a_page_of_campaigns_costs_the_same_queries_whatever_its_size(api, world, campaigns, count_queries):
    counts = {}
    for size in (4, 1):
        with count_queries() as counter:
            connection = await page(api, world, world.manager, first=size)
        assert len(connection["edges"]) == size
        counts[size] = len(counter.statements)
    # token+user with the viewer's roles (one query), organization, page, count
    assert counts[4] == counts[1] == 4, counts
