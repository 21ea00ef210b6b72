"""addAssets (bulk, all or none, validated) and paging through a version's assets."""

import pytest

ADD = "mutation($i: AddAssetsInput!) { addAssets(input: $i) { assets { id filename annotation { shapes { kind area label { name } } } } errors { code field } } }"
PAGE = """query($id: ID!, $first: Int, $after: String) { datasetVersion(id: $id) { assetCount
  assets(first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { filename width height url datasetVersion { name }
      annotation { updatedAt updatedBy { username } shapes { kind area points { x y } label { name } } } } } } } }"""


def asset(name, **extra):
    return {"filename": name, "width": 640, "height": 480, **extra}


BOX = {"label": "car", "kind": "RECTANGLE", "points": [{"x": 10, "y": 10}, {"x": 20, "y": 30}]}


async def add(api, world, assets, token=None):
    return (await api.data(ADD, {"i": {"datasetVersionId": world.ids["version"], "assets": assets}}, token or world.manager))["addAssets"]


async def test_adds_assets_with_preexisting_annotations(api, world):
    payload = await add(api, world, [asset("a.jpg", shapes=[BOX]), asset("b.jpg", url="https://x.test/b.jpg")])
    assert payload["errors"] == []
    assert [a["filename"] for a in payload["assets"]] == ["a.jpg", "b.jpg"]
    assert payload["assets"][0]["annotation"] == {"shapes": [{"kind": "RECTANGLE", "area": 200.0, "label": {"name": "car"}}]}
    assert payload["assets"][1]["annotation"] is None


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (asset(""), "input.assets.1.filename"),
        (asset("x" * 501), "input.assets.1.filename"),
        (asset("b.jpg", width=0), "input.assets.1.width"),
        (asset("b.jpg", height=-5), "input.assets.1.height"),
        (asset("b.jpg", url="ftp://x"), "input.assets.1.url"),
        (asset("b.jpg", shapes=[{**BOX, "label": "truck"}]), "input.assets.1.shapes.0.label"),
        (asset("b.jpg", shapes=[{**BOX, "points": [{"x": 1, "y": 1}, {"x": 2, "y": 2}, {"x": 3, "y": 3}]}]),
         "input.assets.1.shapes.0.points"),
        (asset("b.jpg", shapes=[{**BOX, "points": [{"x": 1, "y": 1}, {"x": 700, "y": 2}]}]), "input.assets.1.shapes.0.points.1"),
        (asset("a.jpg"), "input.assets.1.filename"),
    ],
)
async def test_bad_input_names_the_field_and_adds_nothing(api, world, bad, field):
    payload = await add(api, world, [asset("a.jpg"), bad])
    assert payload == {"assets": [], "errors": [{"code": "INVALID_INPUT", "field": field}]}
    page = await api.data(PAGE, {"id": world.ids["version"]}, world.manager)
    assert page["datasetVersion"]["assetCount"] == 0


async def test_filenames_already_in_the_version_are_refused(api, world):
    assert (await add(api, world, [asset("a.jpg")]))["errors"] == []
    payload = await add(api, world, [asset("new.jpg"), asset("a.jpg")])
    assert payload["errors"] == [{"code": "INVALID_INPUT", "field": "input.assets.1.filename"}]
    assert (await api.data(PAGE, {"id": world.ids["version"]}, world.manager))["datasetVersion"]["assetCount"] == 1


async def test_call_size_limits(api, world):
    assert (await add(api, world, []))["errors"] == [{"code": "INVALID_INPUT", "field": "input.assets"}]
    too_many = [asset(f"{i}.jpg") for i in range(10_001)]
    assert (await add(api, world, too_many))["errors"] == [{"code": "INVALID_INPUT", "field": "input.assets"}]


async def test_only_managers_add_assets(api, world):
    body = await api.post(ADD, {"i": {"datasetVersionId": world.ids["version"], "assets": [asset("a.jpg")]}}, world.contributor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.post(ADD, {"i": {"datasetVersionId": world.ids["version"], "assets": [asset("a.jpg")]}}, world.outsider)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_pages_walk_every_asset_once_in_order(api, world):
    await add(api, world, [asset(f"{i:03d}.jpg") for i in range(25)])
    seen, after, pages = [], None, 0
    while True:
        page = (await api.data(PAGE, {"id": world.ids["version"], "first": 10, "after": after}, world.contributor))
        connection = page["datasetVersion"]["assets"]
        assert connection["totalCount"] == 25
        seen += [edge["node"]["filename"] for edge in connection["edges"]]
        pages += 1
        info = connection["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == [f"{i:03d}.jpg" for i in range(25)] and pages == 3


async def test_page_size_is_capped_and_cursors_checked(api, world):
    for variables in ({"first": 501}, {"first": -1}, {"after": "bogus"}):
        body = await api.post(PAGE, {"id": world.ids["version"], **variables}, world.manager)
        assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", variables
    empty = await api.data(PAGE, {"id": world.ids["version"], "first": 0}, world.manager)
    assert empty["datasetVersion"]["assets"]["edges"] == []


async def test_a_page_of_assets_costs_the_same_queries_whatever_its_size(api, world, count_queries):
    await add(api, world, [asset(f"{i:03d}.jpg", shapes=[BOX, {**BOX, "label": "person"}]) for i in range(150)])
    counts = {}
    for size in (100, 10):
        with count_queries() as counter:
            page = await api.data(PAGE, {"id": world.ids["version"], "first": size}, world.manager)
        assert len(page["datasetVersion"]["assets"]["edges"]) == size
        counts[size] = len(counter.statements)
    # token+user with the viewer's roles (one query), version, dataset, asset count, page, labels
    assert counts[100] == counts[10] == 6, counts
