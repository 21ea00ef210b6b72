"""importAnnotations and DatasetVersion.exportUrl over HTTP, on SQLite and PostgreSQL: COCO and
YOLO round trips (import, export, import the export into a new version: the same assets and
shapes), a launched campaign treating imported assets as new assets, who may export, and a failed
import leaving nothing behind."""

from __future__ import annotations

import io
import json
import random
import zipfile

from campaign_helpers import LAUNCH, add_assets, all_tasks, campaign_with_steps
from import_helpers import IMPORT, as_bytes, coco, download, import_file, new_version, version_assets, yolo_zip
from stepwise.models.actions.rollups import quality_rebuild
from stepwise.models.db import sql
from stepwise.models.db.campaigns import CampaignEvent, Task
from stepwise.models.db.datasets import Asset
from stepwise.schema.ids import decode_id

EXPORT_URL = "query($v: ID!) { datasetVersion(id: $v) { exportUrl(format: COCO) } }"
THROUGH_TASK = "query($t: ID!) { task(id: $t) { campaign { datasetVersion { exportUrl(format: YOLO) } } } }"

STREET = coco(
    [(10, "a.jpg", 640, 480), (11, "b.jpg", 100, 50), (12, "empty.jpg", 20, 20)],
    [{"image_id": 10, "category_id": 1, "bbox": [10.5, 20, 100, 50.25]},
     {"image_id": 10, "category_id": 2, "bbox": [0, 0, 640, 480], "segmentation": []},
     {"image_id": 11, "category_id": 2, "bbox": [1, 1, 9, 9], "segmentation": [[1, 1, 10, 1, 10, 10, 1, 10], [20, 20, 30, 20, 25, 30]]}],
)
EXPECTED = {
    "a.jpg": {"size": (640, 480), "url": None, "shapes": [
        ("RECTANGLE", "car", [(10.5, 20), (110.5, 70.25)]), ("RECTANGLE", "person", [(0, 0), (640, 480)])]},
    "b.jpg": {"size": (100, 50), "url": None, "shapes": [
        ("POLYGON", "person", [(1, 1), (10, 1), (10, 10), (1, 10)]), ("POLYGON", "person", [(20, 20), (30, 20), (25, 30)])]},
    "empty.jpg": {"size": (20, 20), "url": None, "shapes": None},
}


async def assert_quality_counts_match_a_rebuild() -> None:
    """The quality rollups the imports wrote equal a rebuild from the assets (migration 0006's statements)."""
    query = "SELECT version_id, kind, label_id, value, n FROM quality_value_count WHERE n <> 0 ORDER BY 1, 2, 3, 4"
    written = [tuple(row) for row in await sql.fetch(query)]
    async with sql.transaction():
        for statement, params in quality_rebuild(sql.is_postgres(sql.current_connection())):
            await sql.execute(statement, params)
    assert written == [tuple(row) for row in await sql.fetch(query)]


async def test_imported_quality_counts_equal_a_rebuild_with_rounded_areas(api, world):
    """An import counts its boxes' areas in Python (polygons in SQL): the same rows, at three
    significant digits, as the rebuild's statement over the stored annotations."""
    rng = random.Random(7)
    images = [(i, f"r{i}.jpg", rng.choice([640, 1920, 1001]), rng.choice([480, 1080, 333])) for i in range(1, 61)]
    annotations = []
    for image_id, _, width, height in images:
        for _ in range(rng.randint(0, 4)):
            x, y = round(rng.uniform(0, width / 2), 2), round(rng.uniform(0, height / 2), 2)
            w, h = round(rng.uniform(0.01, width / 2), rng.choice([0, 2, 6])) or 1, round(rng.uniform(0.01, height / 2), 2)
            annotations.append({"image_id": image_id, "category_id": rng.randint(1, 2), "bbox": [x, y, w, h]})
        if image_id % 7 == 0:
            annotations.append({"image_id": image_id, "category_id": 2, "bbox": [0, 0, 1, 1],
                                "segmentation": [[1.5, 1, 100.25, 3, 50, 77.75]]})
    result = await import_file(api, world.manager, world.ids["version"], "COCO", as_bytes(coco(images, annotations)))
    assert result["errors"] == [] and result["shapesAdded"] == len(annotations)
    areas = await sql.fetch("SELECT COUNT(*), SUM(n) FROM quality_value_count WHERE kind = 'SHAPE'")
    assert 0 < areas[0][0] < len(annotations) and areas[0][1] == len(annotations)  # rounded areas shared rows
    await assert_quality_counts_match_a_rebuild()


async def test_coco_round_trip(api, world):
    result = await import_file(api, world.manager, world.ids["version"], "COCO", as_bytes(STREET))
    assert result["errors"] == []
    assert (result["assetsAdded"], result["assetsAnnotated"], result["shapesAdded"]) == (3, 2, 4)
    assert result["datasetVersion"] == {"id": world.ids["version"], "assetCount": 3}
    assert await version_assets(api, world.manager, world.ids["version"]) == EXPECTED

    response = await download(api, world.contributor, world.ids["version"], "COCO")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith('attachment; filename="Streets-v1.coco.json"')
    exported = response.json()
    assert [c["name"] for c in exported["categories"]] == ["car", "person"]
    assert [(i["file_name"], i["width"], i["height"]) for i in exported["images"]] == [
        ("a.jpg", 640, 480), ("b.jpg", 100, 50), ("empty.jpg", 20, 20)]
    assert [a["bbox"] for a in exported["annotations"]][:2] == [[10.5, 20, 100, 50.25], [0, 0, 640, 480]]

    copy = await new_version(api, world, "v2")
    again = await import_file(api, world.manager, copy, "COCO", response.content)
    assert (again["errors"], again["assetsAdded"], again["shapesAdded"]) == ([], 3, 4)
    assert await version_assets(api, world.manager, copy) == EXPECTED
    await assert_quality_counts_match_a_rebuild()


async def test_yolo_round_trip(api, world):
    await add_assets(api, world, ["a.jpg", "b.png", "c.jpg"])  # 100 x 100 each
    archive = yolo_zip({"labels/a.txt": "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.2 0.2\n", "labels/b.txt": "\n1 0.75 0.25 0.5 0.5"})
    result = await import_file(api, world.manager, world.ids["version"], "YOLO", archive, "labels.zip")
    assert (result["errors"], result["assetsAdded"], result["assetsAnnotated"], result["shapesAdded"]) == ([], 0, 2, 3)
    expected = {
        "a.jpg": [("RECTANGLE", "car", [(40, 30), (60, 70)]), ("RECTANGLE", "person", [(0, 0), (20, 20)])],
        "b.png": [("RECTANGLE", "person", [(50, 0), (100, 50)])],
        "c.jpg": None,
    }
    found = await version_assets(api, world.manager, world.ids["version"])
    assert {name: asset["shapes"] for name, asset in found.items()} == expected

    response = await download(api, world.manager, world.ids["version"], "YOLO")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as exported:
        assert sorted(exported.namelist()) == ["data.yaml", "labels/a.txt", "labels/b.txt"]
    copy = await new_version(api, world, "v2")
    assets = [{"filename": name, "width": 100, "height": 100} for name in ("a.jpg", "b.png", "c.jpg")]
    added = await api.data("mutation($i: AddAssetsInput!) { addAssets(input: $i) { errors { code } } }",
                           {"i": {"datasetVersionId": copy, "assets": assets}}, world.manager)
    assert added["addAssets"]["errors"] == []
    again = await import_file(api, world.manager, copy, "YOLO", response.content, "export.zip")
    assert (again["errors"], again["assetsAnnotated"], again["shapesAdded"]) == ([], 2, 3)
    assert {name: asset["shapes"] for name, asset in (await version_assets(api, world.manager, copy)).items()} == expected
    # Importing again replaces the annotations: the counts lose the old shapes, gain the new ones.
    again = await import_file(api, world.manager, copy, "YOLO", yolo_zip({"labels/a.txt": "1 0.5 0.5 1 1\n"}), "again.zip")
    assert (again["errors"], again["assetsAnnotated"], again["shapesAdded"]) == ([], 1, 1)
    found = await version_assets(api, world.manager, copy)
    assert found["a.jpg"]["shapes"] == [("RECTANGLE", "person", [(0, 0), (100, 100)])]
    await assert_quality_counts_match_a_rebuild()


async def test_yolo_round_trip_keeps_polygons(api, world):
    """Segmentation lines (`class x1 y1 x2 y2 ...`) give POLYGONs; the export writes POLYGONs so,
    boxes as detection lines, in the shapes' order; a COCO polygon survives COCO -> YOLO -> import."""
    await add_assets(api, world, ["a.jpg"])  # 100 x 100
    lines = "0 0.1 0.1 0.5 0.1 0.3 0.4\n1 0.5 0.5 0.2 0.4\n1 0 0 1 0 1 1 0 1\n"
    result = await import_file(api, world.manager, world.ids["version"], "YOLO", yolo_zip({"labels/a.txt": lines}), "seg.zip")
    assert (result["errors"], result["assetsAnnotated"], result["shapesAdded"]) == ([], 1, 3)
    expected = {"a.jpg": [("POLYGON", "car", [(10, 10), (50, 10), (30, 40)]), ("RECTANGLE", "person", [(40, 30), (60, 70)]),
                          ("POLYGON", "person", [(0, 0), (100, 0), (100, 100), (0, 100)])]}
    assert {n: a["shapes"] for n, a in (await version_assets(api, world.manager, world.ids["version"])).items()} == expected

    response = await download(api, world.manager, world.ids["version"], "YOLO")
    with zipfile.ZipFile(io.BytesIO(response.content)) as exported:
        written = exported.read("labels/a.txt").decode().splitlines()
    assert [len(line.split()) for line in written] == [7, 5, 9]
    copy = await new_version(api, world, "v2")
    await api.data("mutation($i: AddAssetsInput!) { addAssets(input: $i) { errors { code } } }",
                   {"i": {"datasetVersionId": copy, "assets": [{"filename": "a.png", "width": 100, "height": 100}]}}, world.manager)
    again = await import_file(api, world.manager, copy, "YOLO", response.content, "export.zip")
    assert (again["errors"], again["shapesAdded"]) == ([], 3)
    assert {n: a["shapes"] for n, a in (await version_assets(api, world.manager, copy)).items()} == {"a.png": expected["a.jpg"]}

    # COCO's polygons (b.jpg, 100 x 50) and boxes through a YOLO export into a third version.
    third = await new_version(api, world, "v3")
    assert (await import_file(api, world.manager, third, "COCO", as_bytes(STREET)))["errors"] == []
    response = await download(api, world.manager, third, "YOLO")
    fourth = await new_version(api, world, "v4")
    assets = [{"filename": name, "width": w, "height": h} for name, (w, h) in (("a.jpg", (640, 480)), ("b.jpg", (100, 50)))]
    await api.data("mutation($i: AddAssetsInput!) { addAssets(input: $i) { errors { code } } }",
                   {"i": {"datasetVersionId": fourth, "assets": assets}}, world.manager)
    again = await import_file(api, world.manager, fourth, "YOLO", response.content, "export.zip")
    assert (again["errors"], again["shapesAdded"]) == ([], 4)
    found = await version_assets(api, world.manager, fourth)
    assert {n: a["shapes"] for n, a in found.items()} == {n: EXPECTED[n]["shapes"] for n in ("a.jpg", "b.jpg")}
    await assert_quality_counts_match_a_rebuild()


async def test_a_yolo_export_names_every_label_file_once(api, world):
    """Two assets sharing a stem: the second's file gets its id appended, and a name so made
    that another asset already has is not written twice (one entry would hide the other)."""
    [first] = await add_assets(api, world, ["a.jpg"], annotated=["a.jpg"])
    second_png = decode_id(first["id"], "Asset") + 2  # ids follow the order of addAssets
    added = await add_assets(api, world, [f"a~{second_png}.jpg", "a.png"], annotated=[f"a~{second_png}.jpg", "a.png"])
    assert decode_id(added[1]["id"], "Asset") == second_png
    response = await download(api, world.manager, world.ids["version"], "YOLO")
    with zipfile.ZipFile(io.BytesIO(response.content)) as exported:
        names = exported.namelist()
    assert len(names) == len(set(names)) == 4, names


async def test_a_launched_campaign_gives_imported_assets_tasks_and_created_events(api, world):
    await add_assets(api, world, ["first.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"]), ("Review", "REVIEW", ["contributor1"])],
                                            newAssetPolicy="ADD_TO_CAMPAIGN", preexistingAnnotationStrategy="FIRST_QUALITY_CHECK")
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    result = await import_file(api, world.manager, world.ids["version"], "COCO", as_bytes(STREET))
    assert result["errors"] == [] and result["assetsAdded"] == 3
    tasks = {t["asset"]["filename"]: t for t in await all_tasks(api, world, campaign)}
    # Annotated assets enter at the review step with their shapes; the empty one is annotated first.
    assert {name: (t["status"], t["step"]["name"], t["assignee"]["username"]) for name, t in tasks.items()} == {
        "first.jpg": ("IN_PROGRESS", "Annotate", "labeler1"), "a.jpg": ("IN_PROGRESS", "Review", "contributor1"),
        "b.jpg": ("IN_PROGRESS", "Review", "contributor1"), "empty.jpg": ("IN_PROGRESS", "Annotate", "labeler1")}
    assert [s["kind"] for s in tasks["a.jpg"]["annotation"]["shapes"]] == ["RECTANGLE", "RECTANGLE"]
    campaign_pk = decode_id(campaign, "Campaign")
    logged = await CampaignEvent.filter(campaign_id=campaign_pk).order_by("seq").values_list("seq", "kind")
    assert [kind for _, kind in logged] == ["CREATED"] * 4
    assert [seq for seq, _ in logged] == [1, 2, 3, 4]
    progress = "query($c: ID!) { campaign(id: $c) { progress { totalTasks inProgress } } }"
    assert (await api.data(progress, {"c": campaign}, world.manager))["campaign"]["progress"] == {"totalTasks": 4, "inProgress": 4}


async def test_managers_and_contributors_export_never_a_labeler(api, world):
    await import_file(api, world.manager, world.ids["version"], "COCO", as_bytes(STREET))
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
    await api.data(LAUNCH, {"c": campaign}, world.manager)
    task = (await all_tasks(api, world, campaign))[0]["id"]
    url = (await api.data(EXPORT_URL, {"v": world.ids["version"]}, world.manager))["datasetVersion"]["exportUrl"]
    for token in (world.manager, world.contributor, world.admin):
        assert (await api.client.get(url, headers={"authorization": f"Bearer {token}"})).status_code == 200
    # The labeler reaches the version through their task: the field and the download refuse them.
    body = await api.post(THROUGH_TASK, {"t": task}, world.labeler)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    labeler = await api.client.get(url, headers={"authorization": f"Bearer {world.labeler}"})
    assert labeler.status_code == 403 and labeler.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api.client.get(url, headers={"authorization": f"Bearer {world.member}"})).status_code == 404
    assert (await api.client.get(url, headers={"authorization": f"Bearer {world.outsider}"})).status_code == 404
    assert (await api.client.get(url)).status_code == 401
    assert (await api.client.get(url.replace("/coco", "/voc"), headers={"authorization": f"Bearer {world.manager}"})).status_code == 404


async def _nothing_written(world, before: dict) -> None:
    version = decode_id(world.ids["version"], "DatasetVersion")
    assert await Asset.filter(version_id=version).count() == before["assets"]
    assert await Task.all().count() == before["tasks"]
    assert await CampaignEvent.all().count() == before["events"]
    quality = await sql.fetch("SELECT kind, label_id, value, n FROM quality_value_count WHERE n <> 0 ORDER BY 1, 2, 3")
    assert [tuple(row) for row in quality] == before["quality"]


async def _counts(world) -> dict:
    version = decode_id(world.ids["version"], "DatasetVersion")
    quality = await sql.fetch("SELECT kind, label_id, value, n FROM quality_value_count WHERE n <> 0 ORDER BY 1, 2, 3")
    return {"assets": await Asset.filter(version_id=version).count(), "tasks": await Task.all().count(),
            "events": await CampaignEvent.all().count(), "quality": [tuple(row) for row in quality]}


async def test_a_failed_import_leaves_no_asset_annotation_task_or_file(api, world, tmp_path):
    await add_assets(api, world, ["taken.jpg"], annotated=["taken.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])], newAssetPolicy="ADD_TO_CAMPAIGN")
    await api.data(LAUNCH, {"c": campaign}, world.manager)
    before = await _counts(world)
    images = [(n, f"img_{n}.jpg", 100, 100) for n in range(300)] + [(300, "taken.jpg", 100, 100)]
    boxes = [{"image_id": n, "category_id": 1, "bbox": [1, 1, 5, 5]} for n in range(301)]
    # The database's unique (version, filename) index refuses the last row, after 300 were written.
    result = await import_file(api, world.manager, world.ids["version"], "COCO", as_bytes(coco(images, boxes)))
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_INPUT", "input.file")]
    assert result["errors"][0]["message"] == "images[300].file_name: 'taken.jpg' is already in this version."
    await _nothing_written(world, before)

    # A statement failing after the assets, annotations and quality counts are written: the tasks'.
    postgres = sql.is_postgres(sql.current_connection())
    async with sql.transaction():
        if postgres:
            await sql.execute("CREATE FUNCTION refuse_task() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$"
                              " LANGUAGE plpgsql")
            await sql.execute("CREATE TRIGGER refuse_task BEFORE INSERT ON task FOR EACH ROW EXECUTE FUNCTION refuse_task()")
        else:
            await sql.execute("CREATE TRIGGER refuse_task BEFORE INSERT ON task BEGIN SELECT RAISE(ABORT, 'injected'); END")
    body = await _raw_import(api, world, as_bytes(coco(images[:300], boxes[:300])))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert "injected" not in json.dumps(body)  # no internals to the client
    await _nothing_written(world, before)
    leftovers = [p.name for p in (tmp_path / "files").iterdir()] if (tmp_path / "files").exists() else []
    assert leftovers == []  # the uploaded file went with its request


async def _raw_import(api, world, content: bytes) -> dict:
    operations = json.dumps({"query": IMPORT, "variables": {"i": {"datasetVersionId": world.ids["version"], "format": "COCO", "file": None}}})
    response = await api.client.post("/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
                                     files={"0": ("f.json", content, "application/json")}, headers={"authorization": f"Bearer {world.manager}"})
    assert response.status_code == 200, response.text
    return response.json()
