"""The streamed COCO export over HTTP, on SQLite and PostgreSQL, gives the very bytes the plain
formatter (a dict per annotation through orjson, `coco.annotations`) makes of the stored rows:
random fractional boxes and polygons over many small pages, so that every page boundary and
assets without shapes between them are crossed."""

from __future__ import annotations

import random

import orjson
import pytest

from import_helpers import as_bytes, coco, download, import_file
from stepwise.models.interchange import coco as coco_format
from stepwise.models.queries import interchange as reads
from stepwise.schema.ids import decode_id


def random_file(rng: random.Random, images: int) -> dict:
    sizes = [(rng.choice([640, 1920, 1001]), rng.choice([480, 1080, 333])) for _ in range(images)]
    annotations = []
    for image_id, (width, height) in enumerate(sizes, 1):
        for _ in range(rng.choice([0, 0, 1, 3, 7])):
            x, y = round(rng.uniform(0, width / 2), rng.choice([0, 2, 5])), round(rng.uniform(0, height / 2), 2)
            w, h = round(rng.uniform(0.01, width / 2), rng.choice([0, 2, 9])) or 1, round(rng.uniform(0.01, height / 2), 3)
            annotations.append({"image_id": image_id, "category_id": rng.randint(1, 2), "bbox": [x, y, w, h]})
        if image_id % 9 == 0:
            polygon = [round(rng.uniform(0, width), 2) if k % 2 == 0 else round(rng.uniform(0, height), 2) for k in range(8)]
            annotations.append({"image_id": image_id, "category_id": 2, "bbox": [0, 0, 1, 1], "segmentation": [polygon]})
    return coco([(n, f"f{n:04d}.jpg", w, h) for n, (w, h) in enumerate(sizes, 1)], annotations)


async def plain_export(version_id: int, labels: dict[str, int]) -> bytes:
    """The document as the dict formatter writes it from the same rows (the export before issue 12's pass)."""
    last = await reads.last_asset_id(version_id)
    categories = {label_id: number for number, label_id in enumerate(labels.values(), 1)}
    parts, after = [coco_format.head(labels)], 0
    while after is not None:
        page, next_after = await reads.image_page(version_id, after, last)
        parts.append(coco_format.images(page, first=after == 0))
        after = next_after
    parts.append(coco_format.BETWEEN)
    after, next_id, written = 0, 1, False
    while after is not None:
        page, after = await reads.annotation_page(version_id, after, last)
        chunk, next_id = coco_format.annotations([(row[0], reads.parsed_shapes(row[4])) for row in page], categories,
                                                 next_id, first=not written)
        written = written or bool(chunk)
        parts.append(chunk)
    return b"".join(parts + [coco_format.TAIL])


@pytest.mark.parametrize("page_size", [16, 15])  # 15: the last page is full, an empty one ends the read-ahead
async def test_the_streamed_export_is_byte_identical_to_the_plain_formatter(api, world, monkeypatch, page_size):
    document = random_file(random.Random(12), 150)
    result = await import_file(api, world.manager, world.ids["version"], "COCO", as_bytes(document))
    assert result["errors"] == [] and result["shapesAdded"] == len(document["annotations"]) > 300
    monkeypatch.setattr(reads, "EXPORT_PAGE", page_size)  # 10 pages of assets, not one

    response = await download(api, world.contributor, world.ids["version"], "COCO")
    assert response.status_code == 200
    version_id = decode_id(world.ids["version"], "DatasetVersion")
    labels = await reads.labels_by_name(version_id)
    assert response.content == await plain_export(version_id, labels)

    exported = orjson.loads(response.content)
    assert len(exported["images"]) == 150
    assert [a["id"] for a in exported["annotations"]] == list(range(1, len(document["annotations"]) + 1))
    assert sum(1 for a in exported["annotations"] if a["segmentation"]) == 150 // 9
