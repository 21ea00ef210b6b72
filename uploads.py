"""Multipart requests (the GraphQL multipart request specification) read as a stream.

Each file part goes straight into a temporary file in STEPWISE_FILES_DIR, chunk by chunk as the
bytes arrive, and stops being written once it passes STEPWISE_MAX_UPLOAD_MB: memory stays flat
whatever the size, and the resolver answers FILE_TOO_LARGE. Other parts (`operations`, `map`)
are small JSON and are kept in memory, at most MAX_FIELD_BYTES each.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cross_web import HTTPException, StarletteRequestAdapter
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from strawberry.file_uploads.utils import replace_placeholders_with_files

from stepwise.models.stored_files import HEAD_BYTES, IncomingFile, open_temporary

MAX_FIELD_BYTES = 1024 * 1024
MAX_FIELDS = 10
MAX_FILES = 10


class MultipartError(ValueError):
    """A malformed multipart body; the message is for the client (answered 400)."""


@dataclass(eq=False)
class _Part:
    name: str
    incoming: IncomingFile | None = None  # None for a plain field
    handle: BinaryIO | None = None
    data: bytearray = field(default_factory=bytearray)  # a field's value, or file bytes not yet written


class _Reader:
    """python-multipart's callbacks are synchronous: they account and buffer, and `flush()`
    writes what a chunk brought on a thread, before the next chunk is read."""

    def __init__(self, directory: Path | None, max_file_bytes: int, opened: list[IncomingFile]) -> None:
        self.directory, self.max_file_bytes, self.opened = directory, max_file_bytes, opened
        self.fields: dict[str, str] = {}
        self.files: dict[str, IncomingFile] = {}
        self._part: _Part | None = None
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._to_write: list[_Part] = []
        self._to_close: list[_Part] = []

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished, "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self._headers = {}

    # python-multipart bounds each part's headers (MultipartParseError past its maximum).
    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name, self._header_value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise MultipartError('Every part needs a Content-Disposition header with a "name".')
        name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.fields) >= MAX_FIELDS:
                raise MultipartError(f"At most {MAX_FIELDS} fields.")
            self._part = _Part(name)
            return
        if len(self.opened) >= MAX_FILES:
            raise MultipartError(f"At most {MAX_FILES} files.")
        path, handle = open_temporary(self.directory) if self.directory is not None else (None, None)
        incoming = IncomingFile(
            filename=options[b"filename"].decode("utf-8", "replace"),
            content_type=self._headers.get(b"content-type", b"").decode("latin-1"),
            path=path,
        )
        self.opened.append(incoming)  # from now on the request's end removes it, whatever happens
        self._part = _Part(name, incoming, handle)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part, chunk = self._part, data[start:end]
        if part.incoming is None:
            if len(part.data) + len(chunk) > MAX_FIELD_BYTES:
                raise MultipartError(f"The field {part.name!r} is over {MAX_FIELD_BYTES} bytes.")
            part.data += chunk
            return
        incoming = part.incoming
        if incoming.too_large or self.directory is None:
            return  # the rest of an oversized file, or a file nobody may keep, is read and dropped
        if incoming.size + len(chunk) > self.max_file_bytes:
            incoming.too_large = True
            part.data.clear()
            self._to_close.append(part)
            return
        if len(incoming.head) < HEAD_BYTES:
            incoming.head += chunk[: HEAD_BYTES - len(incoming.head)]
        incoming.size += len(chunk)
        if not part.data:
            self._to_write.append(part)
        part.data += chunk

    def on_part_end(self) -> None:
        part, self._part = self._part, None
        if part.incoming is None:
            try:
                self.fields[part.name] = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise MultipartError(f"The field {part.name!r} is not UTF-8.") from None
            return
        self.files[part.name] = part.incoming
        self._to_close.append(part)

    async def flush(self) -> None:
        """Write what the last chunk brought, then close finished files (removing oversized ones)."""
        for part in self._to_write:
            if part.data and part.handle is not None:
                data, part.data = bytes(part.data), bytearray()
                await asyncio.to_thread(part.handle.write, data)
        self._to_write.clear()
        for part in self._to_close:
            await asyncio.to_thread(self._close, part)
        self._to_close.clear()

    @staticmethod
    def _close(part: _Part) -> None:
        if part.handle is not None:
            part.handle.close()
            part.handle = None
        if part.incoming is not None and part.incoming.too_large:
            part.incoming.discard()

    def close_all(self) -> None:
        """Close every handle still open (a failed or cut-off request)."""
        for part in [self._part, *self._to_write, *self._to_close]:
            if part is not None and part.handle is not None:
                part.handle.close()
                part.handle = None

    @property
    def inside_a_part(self) -> bool:
        return self._part is not None


async def read_multipart(
    request: Request, directory: Path | None, max_file_bytes: int, opened: list[IncomingFile]
) -> tuple[dict[str, str], dict[str, IncomingFile]]:
    """The fields and files of a multipart body, read as it streams in. Every file created is
    appended to `opened` at once, so the caller can remove them all when the request ends.
    Without a `directory` (an anonymous request, refused anyway) file bytes are read and dropped."""
    _, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("The multipart Content-Type has no boundary.")
    reader = _Reader(directory, max_file_bytes, opened)
    try:
        parser = MultipartParser(boundary, reader.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            await reader.flush()
        parser.finalize()
        await reader.flush()
    except FormParserError:
        raise MultipartError("The multipart body is malformed.") from None
    finally:
        reader.close_all()
    if reader.inside_a_part:
        raise MultipartError("The multipart body ends inside a part.")
    return reader.fields, reader.files


# ---------------------------------------------------------------- the GraphQL side of it

INCOMING_FILES = "stepwise.incoming_files"  # ASGI scope key: the request's files (the scope's "state"
# may be shared with the lifespan, so the list lives in the scope itself)


class UploadRequestAdapter(StarletteRequestAdapter):
    """Strawberry's Starlette adapter, giving the multipart reader the request's stream."""

    @property
    def starlette_request(self) -> Request:
        return self._request


def track_files(scope: dict) -> list[IncomingFile]:
    """A fresh list for the files of this request: each is recorded in it as soon as it exists."""
    scope[INCOMING_FILES] = []
    return scope[INCOMING_FILES]


async def discard_files(scope: dict) -> None:
    """Remove the temporary files of a finished request (kept ones were renamed already)."""
    incoming = scope.get(INCOMING_FILES) or []
    if incoming:
        await asyncio.to_thread(lambda: [file.discard() for file in incoming])


def _valid_map(files_map: object) -> bool:
    return isinstance(files_map, dict) and all(
        isinstance(paths, list) and all(isinstance(p, str) for p in paths) for paths in files_map.values()
    )


async def parse_graphql_multipart(request: Request, files_dir: Path | None, max_file_bytes: int, parse_json) -> dict:
    """The operation of a multipart request, its `map`'s paths replaced by the IncomingFile
    objects (the `Upload` scalar's values). Malformed requests are answered 400."""
    try:
        fields, files = await read_multipart(request, files_dir, max_file_bytes, request.scope[INCOMING_FILES])
    except MultipartError as error:
        raise HTTPException(400, str(error)) from None
    operations = parse_json(fields.get("operations", "{}"))
    files_map = parse_json(fields.get("map", "{}"))
    if not isinstance(operations, dict) or not _valid_map(files_map):
        raise HTTPException(400, "`operations` must be a JSON object and `map` an object of path lists.")
    try:
        return replace_placeholders_with_files(operations, files_map, files)
    except (KeyError, IndexError, TypeError, ValueError):
        raise HTTPException(400, "The `map` names a file part or a variable path the request does not have.") from None
