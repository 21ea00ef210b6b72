"""COCO object detection JSON: reading one into new assets, writing one from pages of assets.

Read: `images` (id, file_name, width, height, optional coco_url) become assets in file order;
`annotations` become their shapes (a polygon `segmentation` gives one POLYGON per polygon,
otherwise `bbox` [x, y, w, h] gives a RECTANGLE); `categories` map category ids to names, which
must be labels of the version. An image without annotations has no pre-existing annotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import orjson

from stepwise.models.errors import DomainError
from stepwise.models.interchange.common import DECIMALS, ImportedAsset, integer, number, refuse, unsupported
from stepwise.models.shapes import MAX_POINTS, MAX_SHAPES, ShapeKind, shape_area
from stepwise.models.validation import DIMENSION_MAX, FILENAME_MAX, require_filename, require_url

RECTANGLE, POLYGON = ShapeKind.RECTANGLE.value, ShapeKind.POLYGON.value
NUMBERS = frozenset({int, float})
CONTROL = re.compile(r"[\x00-\x1f]")


def load(data: bytes) -> dict:
    """The file as a JSON object. Not JSON at all is UNSUPPORTED_FILE_TYPE; JSON that is broken,
    nested deeper than orjson's limit (1024) or holding infinite numbers is INVALID_INPUT at its
    line and column (orjson reads integers past 64 bits as floats: the checks below refuse them)."""
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, as some Windows tools write
        data = data[3:]
    if data.lstrip()[:1] not in (b"{", b"["):
        raise unsupported("A COCO file is a JSON object; this file is not JSON.")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise refuse(f"line {error.lineno} column {error.colno}", f"not valid JSON ({error.msg}).") from None
    if not isinstance(document, dict):
        raise refuse("top level", "a COCO file is a JSON object with images, annotations and categories.")
    return document


def _array(document: dict, key: str) -> list:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise refuse(key, "must be an array.")
    return value


def _object(value: object, place: str) -> dict:
    if not isinstance(value, dict):
        raise refuse(place, "must be an object.")
    return value


def _checked(check, value, place: str):
    """A validation.py rule, its refusal re-placed in the file."""
    try:
        return check(value, place)
    except DomainError as error:
        raise refuse(place, error.message) from None


def _images(images: list) -> tuple[list[ImportedAsset], dict[int, ImportedAsset]]:
    assets: list[ImportedAsset] = []
    by_id: dict[int, ImportedAsset] = {}
    places: dict[str, int] = {}
    for index, image in enumerate(images):
        place = f"images[{index}]"
        image = _object(image, place)
        image_id = integer(image.get("id"), f"{place}.id")
        if image_id in by_id:
            raise refuse(f"{place}.id", f"image id {image_id} appears twice.")
        name = image.get("file_name")
        if not isinstance(name, str):
            raise refuse(f"{place}.file_name", "must be a string.")
        if not (0 < len(name) <= FILENAME_MAX and not name[0].isspace() and not name[-1].isspace()
                and CONTROL.search(name) is None):  # else the full rule, for its message (or a trimmed name)
            name = _checked(require_filename, name, f"{place}.file_name")
        if name in places:
            raise refuse(f"{place}.file_name", f"{name!r} appears twice (images[{places[name]}]).")
        places[name] = index
        width, height = image.get("width"), image.get("height")
        if not (type(width) is int and type(height) is int and 0 < width <= DIMENSION_MAX
                and 0 < height <= DIMENSION_MAX):  # else the full checks, for their message
            width = integer(width, f"{place}.width")
            height = integer(height, f"{place}.height")
            for key, size in (("width", width), ("height", height)):
                if not 0 < size <= DIMENSION_MAX:
                    raise refuse(f"{place}.{key}", f"must be between 1 and {DIMENSION_MAX}; got {size}.")
        url = image.get("coco_url")
        if url is not None:
            if not isinstance(url, str):
                raise refuse(f"{place}.coco_url", "must be a string.")
            url = _checked(require_url, url, f"{place}.coco_url")
        asset = ImportedAsset(name, width, height, url, None)
        assets.append(asset)
        by_id[image_id] = asset
    return assets, by_id


def _categories(categories: list, label_ids: Mapping[str, int]) -> dict[int, tuple[int | None, str]]:
    """category id -> (label id, or None when the version has no such label; the place, for errors)."""
    found: dict[int, tuple[int | None, str]] = {}
    for index, category in enumerate(categories):
        place = f"categories[{index}]"
        category = _object(category, place)
        category_id = integer(category.get("id"), f"{place}.id")
        if category_id in found:
            raise refuse(f"{place}.id", f"category id {category_id} appears twice.")
        name = category.get("name")
        if not isinstance(name, str):
            raise refuse(f"{place}.name", "must be a string.")
        found[category_id] = (label_ids.get(name), f"{place} ({name[:100]!r})")
    return found


def _polygons(segmentation: list, asset: ImportedAsset, place: str) -> list[list[list[float]]]:
    polygons = []
    for index, flat in enumerate(segmentation):
        where = f"{place}.segmentation[{index}]"
        if not isinstance(flat, list) or len(flat) < 6 or len(flat) % 2 or len(flat) > 2 * MAX_POINTS:
            raise refuse(where, f"a polygon is a flat array of 3 to {MAX_POINTS} x, y pairs.")
        points = []
        for k in range(0, len(flat), 2):
            x, y = number(flat[k], f"{where}[{k}]"), number(flat[k + 1], f"{where}[{k + 1}]")
            if not (0 <= x <= asset.width and 0 <= y <= asset.height):
                raise refuse(f"{where}[{k}]", f"point ({x}, {y}) is outside the image ({asset.width}x{asset.height}).")
            points.append([x, y])
        polygons.append(points)
    return polygons


def _rectangle(bbox: object, asset: ImportedAsset, place: str) -> list[list[float]]:
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise refuse(f"{place}.bbox", "must be [x, y, width, height].")
    x, y, w, h = (number(value, f"{place}.bbox[{k}]") for k, value in enumerate(bbox))
    if not (w > 0 and h > 0):
        raise refuse(f"{place}.bbox", f"width and height must be positive; got {w} x {h}.")
    x2, y2 = round(x + w, DECIMALS), round(y + h, DECIMALS)
    if not (0 <= x and 0 <= y and x2 <= asset.width and y2 <= asset.height):
        raise refuse(f"{place}.bbox", f"the box [{x}, {y}, {w}, {h}] is outside the image ({asset.width}x{asset.height}).")
    return [[x, y], [x2, y2]]


def read(data: bytes, label_ids: Mapping[str, int]) -> list[ImportedAsset]:
    """The assets the file describes, every rule checked; the first problem refuses the whole file."""
    document = load(data)
    assets, by_id = _images(_array(document, "images"))
    categories = _categories(_array(document, "categories"), label_ids)
    labels = {category_id: label_id for category_id, (label_id, _) in categories.items() if label_id is not None}
    for index, annotation in enumerate(_array(document, "annotations")):
        # The common case, a valid bbox-only annotation, in a few comparisons (inline: a call per
        # annotation costs); anything else, every mistake included, goes through the full checks
        # below, which say what is wrong. JSON numbers are finite (orjson refuses the others).
        try:
            image_id, category_id = annotation["image_id"], annotation["category_id"]
            x, y, w, h = annotation["bbox"]
            asset, label_id = by_id[image_id], labels[category_id]
            plain = (type(image_id) is int and type(category_id) is int and type(x) in NUMBERS and type(y) in NUMBERS
                     and type(w) in NUMBERS and type(h) in NUMBERS and not annotation.get("segmentation"))
        except (AttributeError, KeyError, TypeError, ValueError):
            plain = False
        if plain:
            x2, y2 = round(x + w, DECIMALS), round(y + h, DECIMALS)
            if 0 <= x and 0 <= y and w > 0 and h > 0 and x2 <= asset.width and y2 <= asset.height:
                shape = {"label": label_id, "kind": RECTANGLE, "points": [[x, y], [x2, y2]]}
                if asset.shapes is None:
                    asset.shapes = [shape]
                elif len(asset.shapes) < MAX_SHAPES:
                    asset.shapes.append(shape)
                else:
                    raise refuse(f"annotations[{index}]", f"{asset.filename!r} has more than {MAX_SHAPES} shapes.")
                continue
        place = f"annotations[{index}]"
        annotation = _object(annotation, place)
        image_id = integer(annotation.get("image_id"), f"{place}.image_id")
        asset = by_id.get(image_id)
        if asset is None:
            raise refuse(f"{place}.image_id", f"no image has the id {image_id}.")
        category_id = integer(annotation.get("category_id"), f"{place}.category_id")
        category = categories.get(category_id)
        if category is None:
            raise refuse(f"{place}.category_id", f"no category has the id {category_id}.")
        label_id, category_place = category
        if label_id is None:
            raise refuse(f"{place}.category_id", f"{category_place} is not a label of this dataset version.")
        segmentation = annotation.get("segmentation")
        if isinstance(segmentation, dict):
            raise refuse(f"{place}.segmentation", "RLE masks are not supported; give polygons or a bbox.")
        if segmentation not in (None, []) and not isinstance(segmentation, list):
            raise refuse(f"{place}.segmentation", "must be an array of polygons.")
        if segmentation:
            shapes = [{"label": label_id, "kind": POLYGON, "points": points}
                      for points in _polygons(segmentation, asset, place)]
        else:
            shapes = [{"label": label_id, "kind": RECTANGLE, "points": _rectangle(annotation.get("bbox"), asset, place)}]
        if asset.shapes is None:
            asset.shapes = shapes
        else:
            asset.shapes.extend(shapes)
        if len(asset.shapes) > MAX_SHAPES:
            raise refuse(place, f"{asset.filename!r} has more than {MAX_SHAPES} shapes.")
    return assets


# ---------------------------------------------------------------- writing, a page at a time

def head(label_names: Iterable[str]) -> bytes:
    """The start of the document, up to the first image: categories are the version's labels,
    numbered from 1 in the order the version lists them."""
    categories = [{"id": k, "name": name, "supercategory": ""} for k, name in enumerate(label_names, 1)]
    return b'{"info":{"description":"Exported by Stepwise"},"categories":' + orjson.dumps(categories) + b',"images":['


BETWEEN = b'],"annotations":['
TAIL = b"]}"


def images(rows: Iterable[tuple], first: bool) -> bytes:
    """Images of a page of (id, filename, width, height, url) rows, comma-joined to what came before."""
    items = [{"id": i, "file_name": f, "width": w, "height": h, **({"coco_url": u} if u else {})} for i, f, w, h, u in rows]
    return _joined(items, first)


def annotations(rows: Iterable[tuple[int, list]], categories: Mapping[int, int], next_id: int, first: bool) -> tuple[bytes, int]:
    """Annotations of a page of (asset id, stored shapes) rows, with ids from `next_id`; the bytes
    and the next free id. RECTANGLE and POLYGON shapes only: COCO detection has no other kind."""
    items = []
    append = items.append
    for asset_id, shapes in rows:
        for shape in shapes:
            kind, points = shape["kind"], shape["points"]
            category = categories.get(shape["label"], 0)
            if kind == RECTANGLE:
                (x1, y1), (x2, y2) = points
                append({"id": next_id, "image_id": asset_id, "category_id": category,
                        "bbox": [x1, y1, round(x2 - x1, DECIMALS), round(y2 - y1, DECIMALS)],
                        "area": abs(x2 - x1) * abs(y2 - y1), "iscrowd": 0, "segmentation": []})
            elif kind == POLYGON:
                append(_polygon(next_id, asset_id, category, points))
            else:
                continue
            next_id += 1
    return _joined(items, first), next_id


def _polygon(annotation_id: int, asset_id: int, category: int, points: list) -> dict:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return {"id": annotation_id, "image_id": asset_id, "category_id": category,
            "bbox": [min(xs), min(ys), round(max(xs) - min(xs), DECIMALS), round(max(ys) - min(ys), DECIMALS)],
            "area": shape_area(POLYGON, points), "iscrowd": 0, "segmentation": [[c for p in points for c in p]]}


SCALE = 10.0 ** DECIMALS  # 1e9, exact
NO_SEGMENTATION = ()  # orjson writes a tuple as an array: [], as the plain formatter's list


def stored_annotations(rows: Iterable[tuple[int, object]], categories: Mapping[int, int], next_id: int,
                       first: bool) -> tuple[bytes, int]:
    """What `annotations` makes, from (asset id, annotation column as stored) rows, with the
    export's hot loop kept short (300,000 boxes for 100,000 assets, docs/benchmarks.md): the
    bbox a tuple, round() mostly skipped. Byte equality with `annotations` is tested
    (tests/unit/test_export_format.py, tests/api/test_export_bytes.py)."""
    items: list[dict] = []
    append = items.append
    category = categories.get
    loads, scale, plain_round, float_type, no_segmentation = orjson.loads, SCALE, round, float, NO_SEGMENTATION
    for asset_id, stored in rows:
        for shape in loads(stored) if isinstance(stored, (str, bytes)) else stored:
            kind = shape["kind"]
            if kind == RECTANGLE:
                (x1, y1), (x2, y2) = shape["points"]
                w, h = x2 - x1, y2 - y1
                # round(w, DECIMALS) without its decimal conversion when the answer is plain (inline:
                # a call per box is a tenth of the loop). For a positive float below 10**6, w * scale
                # is within 1/16 of the exact product; within 0.4 of an integer n, n is the exact
                # product's nearest integer, no tie, and n / scale (both exact, the division
                # correctly rounded) is the float nearest n / 10**9: what round() gives. Else
                # (ints keep their type, -0.0 its sign, nan) round() itself.
                sw, sh = w * scale, h * scale
                if (type(w) is float_type is type(h) and 0 < sw < 1e15 and 0 < sh < 1e15
                        and -0.4 < sw - (nw := plain_round(sw)) < 0.4 and -0.4 < sh - (nh := plain_round(sh)) < 0.4):
                    bbox, area = (x1, y1, nw / scale, nh / scale), w * h
                else:
                    bbox, area = (x1, y1, plain_round(w, DECIMALS), plain_round(h, DECIMALS)), abs(w) * abs(h)
                append({"id": next_id, "image_id": asset_id, "category_id": category(shape["label"], 0),
                        "bbox": bbox, "area": area, "iscrowd": 0, "segmentation": no_segmentation})
            elif kind == POLYGON:
                append(_polygon(next_id, asset_id, category(shape["label"], 0), shape["points"]))
            else:
                continue
            next_id += 1
    return _joined(items, first), next_id


def _joined(items: list, first: bool) -> bytes:
    if not items:
        return b""
    body = orjson.dumps(items)[1:-1]
    return body if first else b"," + body
