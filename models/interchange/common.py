"""What both formats share: the refusal naming a place in the file, number checks, and the
assets an import produces."""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from stepwise.models.errors import DomainError, ErrorCode, invalid_input

FIELD = "input.file"
# Derived coordinates (x + w, cx * width, ...) are rounded to a billionth of a pixel, so that an
# export read back gives the very numbers it was made from instead of 0.30000000000000004.
DECIMALS = 9


class AnnotationFormat(StrEnum):
    COCO = "COCO"
    YOLO = "YOLO"


@dataclass(slots=True)
class ImportedAsset:
    """A new asset a COCO file describes; `shapes` in the stored form, None when it has none."""

    filename: str
    width: int
    height: int
    url: str | None
    shapes: list[dict] | None


def refuse(place: str, problem: str) -> DomainError:
    """INVALID_INPUT on the file, the message starting with where in it the problem is."""
    return invalid_input(FIELD, f"{place}: {problem}")


def unsupported(message: str) -> DomainError:
    return DomainError(ErrorCode.UNSUPPORTED_FILE_TYPE, message, FIELD)


def integer(value: object, place: str) -> int:
    if type(value) is not int:  # bool is an int subclass: not a number here
        raise refuse(place, f"must be an integer; got {_shown(value)}.")
    return value


def number(value: object, place: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise refuse(place, f"must be a finite number; got {_shown(value)}.")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_gc_pauses = 0


@contextmanager
def paused_gc():
    """Python's cyclic garbage collector off while an import holds its file's objects, or while
    an export formats a page: building millions of JSON objects triggers collections that
    rescan the growing heap, two thirds of the CPU time of reading a 100,000-image COCO file
    (docs/benchmarks.md). Nothing they build is cyclic, so reference counting frees it all;
    the collector comes back when the last pause ends (they may overlap: several requests).
    Objects made during the pause and still alive at its end are all young to the collector, and
    its next collection scans them: let big results die inside the pause."""
    global _gc_pauses
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()
