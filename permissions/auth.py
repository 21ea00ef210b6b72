"""Credentials: API tokens (opaque, random, stored only as SHA-256) and argon2 password hashes."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "swt_"
TOKEN_MAX_LENGTH = 100
# STEPWISE_PASSWORD_HASHING. "standard": argon2id as RFC 9106 recommends with low memory (64 MiB,
# 3 passes; ~60-170 ms a hash here). "fast": 1 MiB, 1 pass (~1.5 ms), for test suites and demos
# that sign up hundreds of users, never for real accounts. A hash records its own parameters, so
# either verifies what the other made.
HASHERS = {
    "standard": lambda: PasswordHasher(),
    "fast": lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}
_hasher = PasswordHasher()
_dummy_hash: str | None = None  # verified against when the username is unknown: both failures cost the same


def use_password_hashing(profile: str) -> None:
    """Hash new passwords with this profile of HASHERS from now on (the app sets it from settings)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = HASHERS[profile](), None


def new_token() -> str:
    """A fresh bearer token; only its digest is ever stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def plausible_token(token: str) -> bool:
    """Cheap shape check before touching the database (over-long or foreign strings are refused)."""
    return token.startswith(TOKEN_PREFIX) and len(token) <= TOKEN_MAX_LENGTH


def bearer_token(header_value: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' value, or None."""
    if not header_value:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("stepwise-dummy-password")
    try:
        return _hasher.verify(stored_hash or _dummy_hash, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; a None hash (unknown user) costs the same and is False."""
    return await asyncio.to_thread(_verify, stored_hash, password)
