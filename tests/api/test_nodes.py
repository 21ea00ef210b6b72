"""node and nodes: any object by ID, with the same visibility as the typed lookups."""

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Dataset { name } ... on Organization { name } ... on User { username } ... on DatasetVersion { name } } }"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def test_node_returns_each_visible_type(api, world):
    for key, typename in (("org", "Organization"), ("dataset", "Dataset"), ("version", "DatasetVersion"), ("labeler", "User")):
        data = await api.data(NODE, {"id": world.ids[key]}, world.contributor)
        assert data["node"]["__typename"] == typename and data["node"]["id"] == world.ids[key]


async def test_node_hides_what_the_viewer_may_not_see(api, world):
    cases = [
        (world.outsider, world.ids["dataset"], "NOT_FOUND"),
        (world.outsider, world.ids["org"], "NOT_FOUND"),
        (world.outsider, world.ids["manager"], "NOT_FOUND"),  # a user sharing no organization
        (world.member, world.ids["version"], "NOT_FOUND"),  # not a worker of that dataset
        (world.labeler, world.ids["dataset"], "FORBIDDEN"),  # a worker whose role does not cover it
        (world.admin, "bm90IGFuIGlk", "NOT_FOUND"),
    ]
    for token, node_id, code in cases:
        body = await api.post(NODE, {"id": node_id}, token)
        assert body["data"] == {"node": None} and body["errors"][0]["extensions"]["code"] == code, (node_id, code)


async def test_nodes_answers_item_by_item(api, world):
    ids = [world.ids["dataset"], world.ids["other_dataset"], world.ids["org"]]
    body = await api.post(NODES, {"ids": ids}, world.manager)
    assert body["data"]["nodes"] == [{"__typename": "Dataset", "id": ids[0]}, None, {"__typename": "Organization", "id": ids[2]}]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["nodes", 1], "NOT_FOUND")]
    too_many = await api.post(NODES, {"ids": [world.ids["org"]] * 101}, world.manager)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_nested_paths_do_not_leak_other_organizations(api, world):
    # Reaching the foreign dataset through anything the outsider can see is impossible, and their own
    # organization lists only their own datasets.
    data = await api.data("query($id: ID!) { organization(id: $id) { datasets { name organization { name } } } }",
                          {"id": world.ids["other_org"]}, world.outsider)
    assert data == {"organization": {"datasets": [{"name": "Theirs", "organization": {"name": "Other"}}]}}
