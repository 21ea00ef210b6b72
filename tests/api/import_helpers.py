"""Building COCO files and YOLO zips, and sending them to importAnnotations (multipart)."""

from __future__ import annotations

import io
import json
import zipfile

IMPORT = """mutation($i: ImportAnnotationsInput!) { importAnnotations(input: $i) {
  datasetVersion { id assetCount } assetsAdded assetsAnnotated shapesAdded errors { code field message } } }"""
EXPORT_URL = "query($v: ID!, $f: AnnotationFormat!) { datasetVersion(id: $v) { exportUrl(format: $f) } }"
VERSION = """mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) {
  datasetVersion { id } errors { code } } }"""
ASSETS = """query($v: ID!, $after: String) { datasetVersion(id: $v) { assets(first: 500, after: $after) {
  edges { node { filename width height url annotation { updatedBy { username } shapes { kind label { name } points { x y } } } } }
  pageInfo { hasNextPage endCursor } } } }"""


def auth(token: str | None) -> dict:
    return {"authorization": f"Bearer {token}"} if token else {}


async def import_file(api, token: str, version: str, format: str, content: bytes, filename: str = "data.json") -> dict:
    operations = json.dumps({"query": IMPORT, "variables": {"i": {"datasetVersionId": version, "format": format, "file": None}}})
    response = await api.client.post(
        "/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
        files={"0": (filename, content, "application/octet-stream")}, headers=auth(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]["importAnnotations"]


def coco(images: list[tuple], annotations: list[dict], categories=("car", "person")) -> dict:
    """images: (id, file_name, width, height)."""
    return {"images": [{"id": i, "file_name": f, "width": w, "height": h} for i, f, w, h in images],
            "categories": [{"id": k, "name": name} for k, name in enumerate(categories, 1)],
            "annotations": [{"id": n, **a} for n, a in enumerate(annotations, 1)]}


def as_bytes(document: dict) -> bytes:
    return json.dumps(document).encode()


def yolo_zip(files: dict[str, str], names=("car", "person"), yaml_name="data.yaml", yaml_text=None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if yaml_name:
            archive.writestr(yaml_name, yaml_text or "names:\n" + "".join(f"  - {n}\n" for n in names))
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


async def new_version(api, world, name: str, labels=("car", "person")) -> str:
    data = await api.data(VERSION, {"i": {"datasetId": world.ids["dataset"], "name": name, "labels": list(labels)}}, world.manager)
    return data["createDatasetVersion"]["datasetVersion"]["id"]


async def version_assets(api, token: str, version: str) -> dict[str, dict]:
    """filename -> (width, height, url, shapes as (kind, label, points)) of every asset."""
    found, after = {}, None
    while True:
        page = (await api.data(ASSETS, {"v": version, "after": after}, token))["datasetVersion"]["assets"]
        for edge in page["edges"]:
            node = edge["node"]
            shapes = None if node["annotation"] is None else [
                (s["kind"], s["label"]["name"], [(p["x"], p["y"]) for p in s["points"]]) for s in node["annotation"]["shapes"]]
            found[node["filename"]] = {"size": (node["width"], node["height"]), "url": node["url"], "shapes": shapes}
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def download(api, token: str | None, version: str, format: str, url_token: str | None = None):
    """The export's response, its URL asked for with `url_token` (default: the same token)."""
    url = (await api.data(EXPORT_URL, {"v": version, "f": format}, url_token or token))["datasetVersion"]["exportUrl"]
    return await api.client.get(url, headers=auth(token))
