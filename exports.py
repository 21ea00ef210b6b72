"""GET /files/export/{datasetVersionId}/{coco|yolo}: a version's accepted annotations as a COCO
JSON file or a YOLO zip, for its dataset's MANAGERs and CONTRIBUTORs.

Same credentials as the API (`Authorization: Bearer`): none or a bad one is 401, a version the
viewer cannot see 404, a LABELER 403. The body is streamed: keyset pages of assets are turned
into bytes one page at a time (the zip entry by entry), so memory does not grow with the
version. Assets added while an export streams are left for the next one.
"""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from stepwise.downloads import content_disposition
from stepwise.models.actions.accounts import authenticate
from stepwise.models.actions.exports import version_to_export
from stepwise.models.errors import AccessError
from stepwise.models.interchange import coco, yolo
from stepwise.models.interchange.common import AnnotationFormat, paused_gc
from stepwise.models.queries import interchange as reads
from stepwise.permissions.access import Access
from stepwise.permissions.auth import bearer_token
from stepwise.permissions.session_rules import SessionRules
from stepwise.schema.ids import decode_id

EXPORT_PATH = "/files/export/"
FORMATS = {"coco": AnnotationFormat.COCO, "yolo": AnnotationFormat.YOLO}
STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404}


def export_url(version_global_id: str, format: AnnotationFormat, root_path: str = "") -> str:
    """Where a version's export downloads: a path on the server that serves /graphql."""
    return f"{root_path}{EXPORT_PATH}{quote(version_global_id, safe='')}/{format.value.lower()}"


def _refused(code: str, message: str) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=STATUS[code])


def export_endpoint(session_rules: SessionRules):
    async def download_export(request: Request) -> Response:
        format = FORMATS.get(request.path_params["format"])
        try:
            version_id = decode_id(request.path_params["version_id"], "DatasetVersion")
        except AccessError:
            version_id = None
        if format is None or version_id is None:
            return _refused("NOT_FOUND", "No such export.")
        viewer = await authenticate(bearer_token(request.headers.get("authorization")), session_rules)
        if viewer is None:
            return _refused("UNAUTHENTICATED", "Sign in first: send 'Authorization: Bearer <token>'.")
        try:
            version, dataset, labels = await version_to_export(Access(viewer), version_id)
        except AccessError as error:
            return _refused(error.code, str(error))
        name = f"{dataset.name}-{version.name}"
        if format is AnnotationFormat.COCO:
            body, media_type, filename = coco_document(version.id, labels), "application/json", f"{name}.coco.json"
        else:
            body, media_type, filename = yolo_zip(version.id, labels), "application/zip", f"{name}.yolo.zip"
        return StreamingResponse(body, media_type=media_type, headers={
            "Content-Disposition": content_disposition(filename), "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-cache"})

    return download_export


async def coco_document(version_id: int, labels: dict[str, int]) -> AsyncIterator[bytes]:
    """The COCO file: images in one pass over the assets, then their annotations in a second one
    (COCO keeps them in two arrays), both bounded by the last asset at the start."""
    last = await reads.last_asset_id(version_id)
    categories = {label_id: number for number, label_id in enumerate(labels.values(), 1)}
    yield coco.head(labels)
    first = True
    async for page in _pages_read_ahead(reads.image_page, version_id, last):
        if page:
            yield coco.images(page, first)
            first = False
    yield coco.BETWEEN
    next_id, written = 1, False
    async for page in _pages_read_ahead(reads.stored_annotation_page, version_id, last):
        with paused_gc():  # the page's objects die with it (common.paused_gc)
            chunk, next_id = coco.stored_annotations(page, categories, next_id, first=not written)
        written = written or bool(chunk)
        if chunk:
            yield chunk
    yield coco.TAIL


async def _pages_read_ahead(read_page, version_id: int, last: int) -> AsyncIterator[list]:
    """The keyset pages `read_page` gives, each read while the caller formats and sends the one
    before: the database (SQLite's scan thread, the PostgreSQL server) works meanwhile."""
    reading = asyncio.ensure_future(read_page(version_id, 0, last))
    try:
        while True:
            page, after = await reading
            if after is not None:
                reading = asyncio.ensure_future(read_page(version_id, after, last))
            yield page
            if after is None:
                return
    finally:
        reading.cancel()  # the client left mid-stream: no read outlives the response


class _Chunks:
    """A write-only file for zipfile: what it writes is taken away after each entry (zipfile,
    seeing it cannot seek, writes sizes after each entry's data, as a streamed zip needs)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


async def yolo_zip(version_id: int, labels: dict[str, int]) -> AsyncIterator[bytes]:
    """data.yaml, then labels/<stem>.txt for every annotated asset (a stem two assets share gets
    the asset's id appended for the second: YOLO matches by stem, so it cannot be told apart)."""
    last = await reads.last_asset_id(version_id)
    classes = {label_id: number for number, label_id in enumerate(labels.values())}
    sink = _Chunks()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)  # type: ignore[arg-type]
    archive.writestr("data.yaml", yolo.data_yaml(labels))
    used: set[str] = set()
    after: int | None = 0
    while after is not None:
        page, after = await reads.annotation_page(version_id, after, last)
        for asset_id, filename, width, height, annotation in page:
            shapes = reads.parsed_shapes(annotation)
            stem = yolo.stem_of(filename)
            if stem in used or stem in ("", ".", ".."):
                stem = f"{stem}~{asset_id}"
                while stem in used:  # another asset is named so already: a zip entry is written once
                    stem = f"{stem}~{asset_id}"
            used.add(stem)
            archive.writestr(f"labels/{stem}.txt", yolo.label_text(shapes, classes, width, height))
        yield sink.take()
    archive.close()
    yield sink.take()
