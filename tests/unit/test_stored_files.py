"""Files on disk: display names, leftovers of crashed processes, the download's Content-Disposition."""

import os
import time

from stepwise.downloads import content_disposition
from stepwise.models.stored_files import (
    DISPLAY_NAME_MAX,
    IncomingFile,
    keep,
    open_temporary,
    random_name,
    sweep_leftovers,
)
from stepwise.models.stored_files import display_filename as shown


def test_display_names_drop_directories_and_invisible_characters():
    assert shown("C:\\Users\\me\\guide.pdf", "x.pdf") == "guide.pdf"
    assert shown("../../etc/passwd", "x.pdf") == "passwd"
    assert shown("evil\u202efdp.exe", "x.pdf") == "evilfdp.exe"  # no right-to-left override
    assert shown("a\r\nb\t c\x00.pdf", "x.pdf") == "ab c.pdf"
    assert shown("  spaced   out .pdf ", "x.pdf") == "spaced out .pdf"
    assert shown("e\u0301t\u00e9.pdf", "x.pdf") == "\u00e9t\u00e9.pdf"  # NFC
    assert shown("", "x.pdf") == shown("/", "x.pdf") == shown(None, "x.pdf") == "x.pdf"
    long = shown("a" * 500 + ".pdf", "x.pdf")
    assert len(long) == DISPLAY_NAME_MAX and long.endswith(".pdf")


def test_content_disposition_quotes_safely():
    assert content_disposition("guide.pdf") == "attachment; filename=\"guide.pdf\"; filename*=UTF-8''guide.pdf"
    header = content_disposition('a "b" \\ é;.pdf')
    assert header == "attachment; filename=\"a _b_ _ _;.pdf\"; filename*=UTF-8''a%20%22b%22%20%5C%20%C3%A9%3B.pdf"


def test_keeping_renames_within_the_directory(tmp_path):
    path, handle = open_temporary(tmp_path)
    with handle:
        handle.write(b"%PDF-1.7")
    incoming = IncomingFile(filename="x.pdf", content_type="", path=path)
    name = random_name(".pdf")
    target = keep(incoming, tmp_path, name)
    assert incoming.path is None and target.read_bytes() == b"%PDF-1.7"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    incoming.discard()  # nothing left to discard: the kept file stays
    assert target.exists()


def test_sweep_removes_only_old_leftovers(tmp_path):
    old = time.time() - 7200
    kept, orphan, young_orphan, other = random_name(".pdf"), random_name(".pdf"), random_name(".pdf"), "notes.txt"
    temporary, handle = open_temporary(tmp_path)
    handle.close()
    young_temporary, handle = open_temporary(tmp_path)
    handle.close()
    for name in (kept, orphan, young_orphan, other):
        (tmp_path / name).write_bytes(b"x")
    for path in (tmp_path / kept, tmp_path / orphan, tmp_path / other, temporary):
        os.utime(path, (old, old))
    removed = sweep_leftovers(tmp_path, {kept})
    assert sorted(removed) == sorted([orphan, temporary.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept, young_orphan, other, young_temporary.name])
    assert sweep_leftovers(tmp_path / "missing", set()) == []
