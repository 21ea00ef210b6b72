"""YOLO zips (detection boxes and segmentation polygons): reading one (data.yaml + `<stem>.txt` per image) onto existing assets,
and writing one entry at a time.

A zip is hostile until checked: entry names that climb out (`../x.txt`) or start at a root are
refused; the decompressed sizes are capped as declared in the zip's directory AND as actually
read (a small zip that inflates to gigabytes is refused before it does). Entries other than
`.txt` files and `data.yaml` (images, for instance) are not read.
"""

from __future__ import annotations

import math
import struct
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from stepwise.models.interchange.common import DECIMALS, refuse, unsupported
from stepwise.models.shapes import MAX_POINTS, MAX_SHAPES, ShapeKind

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a first entry, or an empty zip's directory
MAX_ENTRIES = 1_000_000
MAX_DIRECTORY_BYTES = 128 * 1024 * 1024  # the central directory: 1,000,000 entries named labels/<12 chars>.txt take 75 MB
MAX_ENTRY_BYTES = 1024 * 1024  # one label file: 1,000 boxes take about 40 KB
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # everything read from one zip, decompressed
DATA_YAML = ("data.yaml", "data.yml")
EPSILON = 1e-6  # normalised coordinates a rounding away from 0 or 1 are taken as 0 or 1


@dataclass(slots=True)
class LabelFile:
    entry: str  # its name in the zip, for errors
    text: str


def stem_of(filename: str) -> str:
    """What a YOLO label file is named after: the base name without its extension."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _ = base.rpartition(".")
    return stem if dot and stem else base


def _safe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return not (name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts or "\x00" in name)


def read_zip(path: Path, head: bytes) -> tuple[list[str], dict[str, LabelFile]]:
    """The class names of data.yaml and the label files by stem, every entry name and size checked."""
    if not head.startswith(ZIP_MAGIC):
        raise unsupported("A YOLO upload is a zip file; this file is not one.")
    try:
        entries, directory_bytes = declared_directory(path)
    except OSError:
        entries = directory_bytes = None
    if entries is None:
        raise unsupported("A YOLO upload is a zip file; this one cannot be read as a zip.")
    # zipfile.ZipFile reads the whole central directory into ZipInfo objects (about 600 bytes
    # each) before anything could be checked: the end record's counts are checked first.
    if entries > MAX_ENTRIES:
        raise refuse("zip", f"{entries} entries; a zip may have {MAX_ENTRIES}.")
    if directory_bytes > MAX_DIRECTORY_BYTES:
        raise refuse("zip", f"a central directory of {directory_bytes} bytes; a zip may have {MAX_DIRECTORY_BYTES}.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise unsupported("A YOLO upload is a zip file; this one cannot be read as a zip.") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:  # a directory holding more entries than its end record says
            raise refuse("zip", f"more than {MAX_ENTRIES} entries.")
        wanted, declared = [], 0
        for info in entries:
            if not _safe_name(info.filename):
                raise refuse(info.filename[:200], "entry names must stay inside the zip (no '..', no absolute path).")
            base = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not (base.lower().endswith(".txt") or base in DATA_YAML):
                continue
            if info.file_size > MAX_ENTRY_BYTES:
                raise refuse(info.filename, f"decompresses to {info.file_size} bytes; a label file may have {MAX_ENTRY_BYTES}.")
            declared += info.file_size
            if declared > MAX_TOTAL_BYTES:
                raise refuse(info.filename, f"the label files decompress to more than {MAX_TOTAL_BYTES} bytes.")
            wanted.append(info)
        names: list[str] | None = None
        files: dict[str, LabelFile] = {}
        for info in wanted:
            text = _text(archive, info)
            if info.filename.rsplit("/", 1)[-1] in DATA_YAML:
                if names is not None:
                    raise refuse(info.filename, "a second data.yaml.")
                names = _class_names(text, info.filename)
                continue
            stem = stem_of(info.filename)
            if stem in files:
                raise refuse(info.filename, f"a second label file for {stem!r} (the first: {files[stem].entry}).")
            files[stem] = LabelFile(info.filename, text)
    if names is None:
        raise refuse("data.yaml", "missing: the zip needs a data.yaml naming the classes.")
    return names, files


END = struct.Struct("<4s4H2LH")  # end of central directory: signature, disks, entries here, entries, size, offset, comment
END64_LOCATOR = struct.Struct("<4sLQL")  # signature, disk, offset of the zip64 end record, disks
END64 = struct.Struct("<4sQ2H2L4Q")  # signature, size, versions, disks, entries here, entries, size, offset


def declared_directory(path: Path) -> tuple[int | None, int]:
    """(entries, central directory bytes) as the zip's end record (zip64's when it has one)
    declares them, read from the file's last 64 KB; (None, 0) when there is no end record."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - END.size - 0xFFFF)  # the record, then a comment of up to 64 KB
        handle.seek(start)
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < END.size:
            return None, 0
        _, _, _, _, entries, directory_bytes, _, _ = END.unpack_from(tail, at)
        if at >= END64_LOCATOR.size and tail[at - END64_LOCATOR.size:at].startswith(b"PK\x06\x07"):
            _, _, offset, _ = END64_LOCATOR.unpack_from(tail, at - END64_LOCATOR.size)
            handle.seek(offset)
            record = handle.read(END64.size)
            if len(record) < END64.size or not record.startswith(b"PK\x06\x06"):
                return None, 0
            fields = END64.unpack(record)
            entries, directory_bytes = fields[7], fields[8]
    return entries, directory_bytes


def _text(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """The entry's text, never more than it declared: a lying size is refused, not trusted."""
    try:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError) as error:
        raise refuse(info.filename, f"cannot be read ({str(error)[:100]}).") from None
    if len(data) > info.file_size:
        raise refuse(info.filename, "decompresses to more bytes than the zip declares.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse(info.filename, "is not UTF-8 text.") from None


def _class_names(text: str, entry: str) -> list[str]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        place = f"{entry} line {error.problem_mark.line + 1}" if getattr(error, "problem_mark", None) else entry
        raise refuse(place, "not valid YAML.") from None
    except RecursionError:  # the YAML composer recurses once per level of nesting
        raise refuse(entry, "nested too deeply.") from None
    names = document.get("names") if isinstance(document, dict) else None
    if isinstance(names, dict):  # {0: car, 1: person}
        if any(type(k) is not int for k in names) or sorted(names) != list(range(len(names))):
            raise refuse(f"{entry} names", "the class numbers must be 0, 1, 2, ...")
        names = [names[k] for k in range(len(names))]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise refuse(f"{entry} names", "must be a list of class names.")
    return names


def shapes_of(label_file: LabelFile, class_labels: list[int | None], names: list[str],
              width: int, height: int) -> list[dict]:
    """The stored shapes of one label file, for an image of width x height: a detection line
    (`class cx cy w h`) gives a RECTANGLE, a segmentation line (`class x1 y1 x2 y2 x3 y3 ...`,
    3 points or more) a POLYGON."""
    shapes = []
    for number, line in enumerate(label_file.text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        place = f"{label_file.entry} line {number}"
        if len(words) != 5 and (len(words) < 7 or len(words) % 2 == 0):
            raise refuse(place, "expected 'class cx cy w h' (a box) or 'class x1 y1 x2 y2 x3 y3 ...' (a polygon);"
                                f" got {len(words)} values.")
        if len(words) > 1 + 2 * MAX_POINTS:
            raise refuse(place, f"a polygon has at most {MAX_POINTS} points; got {(len(words) - 1) // 2}.")
        try:
            cls = int(words[0])
            values = [float(word) for word in words[1:]]
        except ValueError:
            raise refuse(place, "the class is an integer and the coordinates are numbers.") from None
        if not 0 <= cls < len(names):
            raise refuse(place, f"class {cls} is not in data.yaml (classes 0 to {len(names) - 1}).")
        label_id = class_labels[cls]
        if label_id is None:
            raise refuse(place, f"class {cls} ({names[cls][:100]!r}) is not a label of this dataset version.")
        if len(values) == 4:
            shapes.append({"label": label_id, "kind": ShapeKind.RECTANGLE.value, "points": _box(values, width, height, place)})
        else:
            shapes.append({"label": label_id, "kind": ShapeKind.POLYGON.value, "points": _polygon(values, width, height, place)})
        if len(shapes) > MAX_SHAPES:
            raise refuse(place, f"more than {MAX_SHAPES} shapes for one image.")
    return shapes


def _box(values: list[float], width: int, height: int, place: str) -> list[list[float]]:
    cx, cy, w, h = values
    if not all(map(math.isfinite, values)) or w <= 0 or h <= 0:
        raise refuse(place, "cx cy must be finite and w h positive.")
    left, top, right, bottom = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if left < -EPSILON or top < -EPSILON or right > 1 + EPSILON or bottom > 1 + EPSILON:
        raise refuse(place, "the box is outside the image (coordinates are normalised to 0..1).")
    points = [[_pixel(left, width), _pixel(top, height)], [_pixel(right, width), _pixel(bottom, height)]]
    if not (points[0][0] < points[1][0] and points[0][1] < points[1][1]):
        raise refuse(place, "the box is smaller than a billionth of a pixel.")
    return points


def _polygon(values: list[float], width: int, height: int, place: str) -> list[list[float]]:
    for k, value in enumerate(values):
        if not (math.isfinite(value) and -EPSILON <= value <= 1 + EPSILON):
            axis = "x" if k % 2 == 0 else "y"
            raise refuse(place, f"{axis}{k // 2 + 1} = {value!r} is outside the image (coordinates are normalised to 0..1).")
    return [[_pixel(values[k], width), _pixel(values[k + 1], height)] for k in range(0, len(values), 2)]


def _pixel(normalised: float, size: int) -> float:
    return min(max(round(normalised * size, DECIMALS), 0.0), float(size))


# ---------------------------------------------------------------- writing

def data_yaml(label_names: Iterable[str]) -> bytes:
    names = list(label_names)
    return yaml.safe_dump({"nc": len(names), "names": names}, allow_unicode=True, sort_keys=False).encode()


def label_text(shapes: list[dict], classes: Mapping[int, int], width: int, height: int) -> bytes:
    """One image's label file: a detection line per RECTANGLE, a segmentation line per POLYGON
    (YOLO has no form for the other kinds)."""
    lines = []
    for shape in shapes:
        if shape["label"] not in classes:
            continue
        if shape["kind"] == ShapeKind.RECTANGLE.value:
            (x1, y1), (x2, y2) = shape["points"]
            lines.append(f"{classes[shape['label']]} {(x1 + x2) / 2 / width!r} {(y1 + y2) / 2 / height!r}"
                         f" {(x2 - x1) / width!r} {(y2 - y1) / height!r}\n")
        elif shape["kind"] == ShapeKind.POLYGON.value:
            coordinates = " ".join(f"{x / width!r} {y / height!r}" for x, y in shape["points"])
            lines.append(f"{classes[shape['label']]} {coordinates}\n")
    return "".join(lines).encode()
