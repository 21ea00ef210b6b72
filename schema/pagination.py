"""Cursor pagination rules: `first` from 0 to 500 (default 100) and opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii

from stepwise.models.errors import BadRequest

MAX_PAGE = 500
DEFAULT_PAGE = 100


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise BadRequest(f"`first` must be between 0 and {MAX_PAGE}; got {first}.")
    return first


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"after:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The key to continue after; 0 for the start of the list."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, pk = raw.partition(":")
        if prefix == "after" and pk.isdigit() and len(pk) <= 18:
            return int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadRequest("`after` is not a cursor of this list: pass an `endCursor` you received.")
