"""Opaque, typed global IDs: base64url("Type:pk"). A wrong type or garbage is NOT_FOUND."""

from __future__ import annotations

import base64
import binascii

from stepwise.models.errors import NotFound

MAX_ID_LENGTH = 100


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def parse_id(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key), or None when the string is not one of our IDs."""
    if not global_id or len(global_id) > MAX_ID_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if not type_name or not pk.isdigit() or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode_id(global_id: str, expected_type: str) -> int:
    """The primary key behind an ID of `expected_type`; NOT_FOUND for anything else."""
    parsed = parse_id(global_id)
    if parsed is None or parsed[0] != expected_type:
        raise NotFound(expected_type)
    return parsed[1]
