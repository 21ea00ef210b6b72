"""Files importAnnotations refuses, each with the place in the file named in the message, and
nothing written: malformed COCO and YOLO files, unknown names, shapes outside the image,
duplicates; files made to hurt (deep nesting, huge numbers, zip bombs, path traversal); uploads
over the limit, refused while they stream."""

from __future__ import annotations

import io
import json
import struct
import uuid
import zipfile

import pytest
from campaign_helpers import add_assets
from import_helpers import IMPORT, as_bytes, auth, coco, import_file, yolo_zip
from stepwise.models.db.datasets import Asset

MB = 1024 * 1024
GOOD_IMAGE = (1, "a.jpg", 100, 50)
BOX = {"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]}


@pytest.fixture
def settings_env(settings_env) -> dict[str, str]:
    return {**settings_env, "STEPWISE_MAX_UPLOAD_MB": "1"}


def coco_with(images=(GOOD_IMAGE,), annotations=(BOX,), categories=("car", "person")) -> bytes:
    return as_bytes(coco(list(images), list(annotations), categories))


def lying_zip() -> bytes:
    """A label file whose declared size (local header and central directory) is 10 bytes, while
    it inflates to 200 KB."""
    data = bytearray(yolo_zip({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n" * 12_000}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_length = struct.unpack_from("<H", data, start + (26 if signature == b"PK\x03\x04" else 28))[0]
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + name_length] == b"labels/a.txt":
                struct.pack_into("<I", data, start + offset, 10)
            start += 4
    return bytes(data)


def bomb() -> bytes:
    """A 16 KB zip whose label file inflates to 16 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("data.yaml", "names: [car, person]\n")
        archive.writestr("labels/a.txt", b"0" * (16 * MB))
    return buffer.getvalue()


COCO_REFUSALS = [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "UNSUPPORTED_FILE_TYPE", "A COCO file is a JSON object; this file is not JSON."),
    (b'{"images": [', "INVALID_INPUT", "line 1 column 13: not valid JSON (unexpected end of data)."),
    (b'\xef\xbb\xbf{"images": 5}', "INVALID_INPUT", "images: must be an array."),  # a byte order mark is fine
    (b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "INVALID_INPUT", "line 1 column 1031: not valid JSON (depth limit exceeded)."),
    (b'{"images": [{"id": 1, "file_name": "a.jpg", "width": 1e400, "height": 5}]}', "INVALID_INPUT",
     "line 1 column 54: not valid JSON (number is infinity when parsed as double)."),
    (b'{"images": [{"id": 1, "file_name": "a.jpg", "width": ' + b"9" * 40 + b', "height": 5}]}', "INVALID_INPUT",
     "images[0].width: must be an integer; got 1e+40."),
    (b"[]", "INVALID_INPUT", "top level: a COCO file is a JSON object with images, annotations and categories."),
    (b'{"images": {}}', "INVALID_INPUT", "images: must be an array."),
    (coco_with(images=[GOOD_IMAGE, (2, "a.jpg", 5, 5)]), "INVALID_INPUT", "images[1].file_name: 'a.jpg' appears twice (images[0])."),
    (coco_with(images=[GOOD_IMAGE, (1, "b.jpg", 5, 5)]), "INVALID_INPUT", "images[1].id: image id 1 appears twice."),
    (coco_with(images=[(1, "  ", 5, 5)]), "INVALID_INPUT", "images[0].file_name: Must not be empty."),
    (coco_with(images=[(1, "a.jpg", 0, 5)]), "INVALID_INPUT", "images[0].width: must be between 1 and 100000; got 0."),
    (coco_with(annotations=[BOX, {**BOX, "category_id": 3}], categories=("car", "person", "dog")), "INVALID_INPUT",
     "annotations[1].category_id: categories[2] ('dog') is not a label of this dataset version."),
    (coco_with(annotations=[{**BOX, "category_id": 7}]), "INVALID_INPUT", "annotations[0].category_id: no category has the id 7."),
    (coco_with(annotations=[{**BOX, "image_id": 9}]), "INVALID_INPUT", "annotations[0].image_id: no image has the id 9."),
    (coco_with(annotations=[BOX] * 12 + [{**BOX, "bbox": [95, 1, 10, 10]}]), "INVALID_INPUT",
     "annotations[12].bbox: the box [95, 1, 10, 10] is outside the image (100x50)."),
    (coco_with(annotations=[{**BOX, "bbox": [1, 1, 10 ** 30, 1]}]), "INVALID_INPUT",
     "annotations[0].bbox: the box [1, 1, 1e+30, 1] is outside the image (100x50)."),
    (coco_with(annotations=[{**BOX, "bbox": [1, 1, 0, 4]}]), "INVALID_INPUT",
     "annotations[0].bbox: width and height must be positive; got 0 x 4."),
    (coco_with(annotations=[{**BOX, "bbox": [1, "2", 3, 4]}]), "INVALID_INPUT", "annotations[0].bbox[1]: must be a finite number; got '2'."),
    (coco_with(annotations=[{**BOX, "segmentation": {"counts": "xyz", "size": [50, 100]}}]), "INVALID_INPUT",
     "annotations[0].segmentation: RLE masks are not supported; give polygons or a bbox."),
    (coco_with(annotations=[{**BOX, "segmentation": [[1, 1, 2, 2, 3]]}]), "INVALID_INPUT",
     "annotations[0].segmentation[0]: a polygon is a flat array of 3 to 10000 x, y pairs."),
    (coco_with(annotations=[{**BOX, "segmentation": [[1, 1, 2, 2, 3, 60]]}]), "INVALID_INPUT",
     "annotations[0].segmentation[0][4]: point (3, 60) is outside the image (100x50)."),
    (coco_with(images=[(1, "taken.jpg", 5, 5)], annotations=[]), "INVALID_INPUT",
     "images[0].file_name: 'taken.jpg' is already in this version."),
]

YOLO_REFUSALS = [
    (b"%PDF-1.4\n", "UNSUPPORTED_FILE_TYPE", "A YOLO upload is a zip file; this file is not one."),
    (b"PK\x03\x04" + b"\0" * 40, "UNSUPPORTED_FILE_TYPE", "A YOLO upload is a zip file; this one cannot be read as a zip."),
    (yolo_zip({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n"}, yaml_name=None), "INVALID_INPUT",
     "data.yaml: missing: the zip needs a data.yaml naming the classes."),
    (yolo_zip({}, yaml_text="names: [car\n"), "INVALID_INPUT", "data.yaml line 2: not valid YAML."),
    (yolo_zip({}, yaml_text="names: {0: car, 2: person}\n"), "INVALID_INPUT", "data.yaml names: the class numbers must be 0, 1, 2, ..."),
    (yolo_zip({}, yaml_text="- car\n"), "INVALID_INPUT", "data.yaml names: must be a list of class names."),
    (yolo_zip({}, yaml_text="names: {0: car, x: person}\n"), "INVALID_INPUT",
     "data.yaml names: the class numbers must be 0, 1, 2, ..."),
    (yolo_zip({}, yaml_text="names: " + "[" * 5_000 + "]" * 5_000 + "\n"), "INVALID_INPUT", "data.yaml: nested too deeply."),
    (yolo_zip({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1\n"}, names=("car", "dog")), "INVALID_INPUT",
     "labels/a.txt line 2: class 1 ('dog') is not a label of this dataset version."),
    (yolo_zip({"labels/a.txt": "\n\n\n2 0.5 0.5 0.1 0.1\n"}), "INVALID_INPUT",
     "labels/a.txt line 4: class 2 is not in data.yaml (classes 0 to 1)."),
    (yolo_zip({"labels/a.txt": "0 0.5 0.5\n"}), "INVALID_INPUT", "labels/a.txt line 1: expected 'class cx cy w h' (a box)"
     " or 'class x1 y1 x2 y2 x3 y3 ...' (a polygon); got 3 values."),
    (yolo_zip({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n0 0.1 0.1 0.5 0.1 0.3\n"}), "INVALID_INPUT", "labels/a.txt line 2: expected"
     " 'class cx cy w h' (a box) or 'class x1 y1 x2 y2 x3 y3 ...' (a polygon); got 6 values."),
    (yolo_zip({"labels/a.txt": "car 0.5 0.5 0.1 0.1\n"}), "INVALID_INPUT",
     "labels/a.txt line 1: the class is an integer and the coordinates are numbers."),
    (yolo_zip({"labels/a.txt": "0 0.1 0.1 0.5 0.1 0.3 x\n"}), "INVALID_INPUT",
     "labels/a.txt line 1: the class is an integer and the coordinates are numbers."),
    (yolo_zip({"labels/a.txt": "\n1 0.1 0.1 0.5 0.1 0.3 0.4 1.25 0.5\n"}), "INVALID_INPUT",
     "labels/a.txt line 2: x4 = 1.25 is outside the image (coordinates are normalised to 0..1)."),
    (yolo_zip({"labels/a.txt": "1 0.1 0.1 0.5 nan 0.3 0.4\n"}), "INVALID_INPUT",
     "labels/a.txt line 1: y2 = nan is outside the image (coordinates are normalised to 0..1)."),
    (yolo_zip({"labels/a.txt": "0" + " 0.5" * 20_002 + "\n"}), "INVALID_INPUT",
     "labels/a.txt line 1: a polygon has at most 10000 points; got 10001."),
    (yolo_zip({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n0 0.95 0.5 0.2 0.1\n"}), "INVALID_INPUT",
     "labels/a.txt line 2: the box is outside the image (coordinates are normalised to 0..1)."),
    (yolo_zip({"labels/a.txt": "0 nan 0.5 0.1 0.1\n"}), "INVALID_INPUT", "labels/a.txt line 1: cx cy must be finite and w h positive."),
    (yolo_zip({"labels/zzz.txt": ""}), "INVALID_INPUT", "labels/zzz.txt: no asset of this version is named 'zzz' (with any extension)."),
    (yolo_zip({"labels/a.txt": "", "train/a.txt": ""}), "INVALID_INPUT",
     "train/a.txt: a second label file for 'a' (the first: labels/a.txt)."),
    (yolo_zip({"labels/dup.txt": ""}), "INVALID_INPUT", "labels/dup.txt: 2 assets of this version are named 'dup': 'dup.jpg', 'dup.png'."),
    (yolo_zip({"../x.txt": ""}), "INVALID_INPUT", "../x.txt: entry names must stay inside the zip (no '..', no absolute path)."),
    (yolo_zip({"labels/../../x.txt": ""}), "INVALID_INPUT",
     "labels/../../x.txt: entry names must stay inside the zip (no '..', no absolute path)."),
    (yolo_zip({"/etc/x.txt": ""}), "INVALID_INPUT", "/etc/x.txt: entry names must stay inside the zip (no '..', no absolute path)."),
    (bomb(), "INVALID_INPUT", "labels/a.txt: decompresses to 16777216 bytes; a label file may have 1048576."),
    # zipfile stops inflating at the declared size; the checksum then fails.
    (lying_zip(), "INVALID_INPUT", "labels/a.txt: cannot be read (Bad CRC-32 for file 'labels/a.txt')."),
]


async def test_every_refusal_names_its_place_and_writes_nothing(api, world):
    await add_assets(api, world, ["a.jpg", "taken.jpg", "dup.jpg", "dup.png"], annotated=["a.jpg"])
    before = await api.data("query($v: ID!) { datasetVersion(id: $v) { assetCount quality { shapesByLabel { count } } } }",
                            {"v": world.ids["version"]}, world.manager)
    for format, cases in (("COCO", COCO_REFUSALS), ("YOLO", YOLO_REFUSALS)):
        for content, code, message in cases:
            result = await import_file(api, world.manager, world.ids["version"], format, content)
            assert [(e["code"], e["field"], e["message"]) for e in result["errors"]] == [(code, "input.file", message)], message
    after = await api.data("query($v: ID!) { datasetVersion(id: $v) { assetCount quality { shapesByLabel { count } } } }",
                           {"v": world.ids["version"]}, world.manager)
    assert after == before
    shapes = await Asset.filter(filename="a.jpg").values_list("annotation", flat=True)
    assert [len(s) for s in shapes] == [1]  # YOLO refusals left the existing annotation alone


async def _raw_import(api, token: str, version: str, content: bytes) -> dict:
    operations = json.dumps({"query": IMPORT, "variables": {"i": {"datasetVersionId": version, "format": "COCO", "file": None}}})
    response = await api.client.post("/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
                                     files={"0": ("f.json", content, "application/json")}, headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


async def test_only_managers_import(api, world):
    content = coco_with(images=[(1, "x.jpg", 5, 5)], annotations=[])
    for token, code in ((world.contributor, "FORBIDDEN"), (world.labeler, "FORBIDDEN"), (world.outsider, "NOT_FOUND")):
        body = await _raw_import(api, token, world.ids["version"], content)
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await Asset.all().count() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database work: one backend
async def test_uploads_over_the_limit_are_refused_while_streaming(api, world, tmp_path):
    """STEPWISE_MAX_UPLOAD_MB is 1 here: a file just over it is FILE_TOO_LARGE (the rest of it read
    and dropped); 100 MB are cut off once the request passes the multipart limit (the general 10 MB
    request limit here), long before the end, answered 413."""
    result = (await _raw_import(api, world.manager, world.ids["version"], b'{"images": [' + b" " * MB + b"]}"))
    errors = result["data"]["importAnnotations"]["errors"]
    assert [(e["code"], e["field"], e["message"]) for e in errors] == [
        ("FILE_TOO_LARGE", "input.file", "The file is over the upload limit (1 MB).")]

    boundary = uuid.uuid4().hex
    operations = json.dumps({"query": IMPORT, "variables": {"i": {"datasetVersionId": world.ids["version"], "format": "COCO", "file": None}}})
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.i.file\"]}}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"huge.json\"\r\n\r\n").encode()
    chunk, sent = b" " * MB, 0

    async def body():
        nonlocal sent
        yield head + b'{"images": ['
        for _ in range(100):
            sent += len(chunk)
            yield chunk
        yield f"]}}\r\n--{boundary}--\r\n".encode()

    response = await api.client.post("/graphql", content=body(), headers={
        **auth(world.manager), "content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert sent <= 12 * MB  # read up to the limit, not to the end
    assert await Asset.all().count() == 0
    assert [p.name for p in (tmp_path / "files").iterdir()] == []
