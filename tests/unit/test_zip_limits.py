"""A zip's entry count and central directory size are checked from its end record, before
zipfile turns the whole directory into objects: a small upload of a million empty entries is
refused without building a million ZipInfo objects (docs/api.md, "Import and export")."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib

import pytest

from stepwise.models.errors import DomainError
from stepwise.models.interchange import yolo

LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s6H3L5H2L")


def many_empty_entries(path, count: int) -> None:
    """A real zip64 file of `count` empty stored entries (e/<n>), written with struct: zipfile
    takes minutes for a million entries."""
    crc = zlib.crc32(b"")
    local, central = bytearray(), bytearray()
    for n in range(count):
        name = f"e/{n:x}".encode()
        central += CENTRAL.pack(b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0, 0, 0, 0, 0, len(local))
        central += name
        local += LOCAL.pack(b"PK\x03\x04", 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0)
        local += name
    end64_at = len(local) + len(central)
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), len(local))
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end64_at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(bytes(local + central + end64 + locator + end))


def test_the_generated_zip_is_one_zipfile_reads(tmp_path):
    path = tmp_path / "few.zip"
    many_empty_entries(path, 70_000)  # past 65,535: the zip64 end record
    with zipfile.ZipFile(path) as archive:
        assert len(archive.infolist()) == 70_000 and archive.read("e/1") == b""
    assert yolo.declared_directory(path) == (70_000, 70_000 * 46 + sum(len(f"e/{n:x}") for n in range(70_000)))


def test_a_million_tiny_entries_are_refused_from_the_end_record_before_the_directory_is_parsed(tmp_path):
    path = tmp_path / "million.zip"
    many_empty_entries(path, yolo.MAX_ENTRIES + 1)
    head = path.read_bytes()[:8]
    tracemalloc.start()
    try:
        with pytest.raises(DomainError) as refused:
            yolo.read_zip(path, head)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.code == "INVALID_INPUT"
    assert str(refused.value) == f"zip: {yolo.MAX_ENTRIES + 1} entries; a zip may have {yolo.MAX_ENTRIES}."
    # Parsing the directory would hold a million ZipInfo objects (hundreds of MB); the end
    # record is the file's last 64 KB.
    assert peak < 1024 * 1024, peak


def test_a_zip_without_end_record_is_not_a_zip(tmp_path):
    path = tmp_path / "cut.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.yaml", "names: [car]\n")
    path.write_bytes(buffer.getvalue()[:-22])
    with pytest.raises(DomainError) as refused:
        yolo.read_zip(path, buffer.getvalue()[:8])
    assert refused.value.code == "UNSUPPORTED_FILE_TYPE"
