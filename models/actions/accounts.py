"""Accounts: sign-up (turning pending invitations into memberships), log-in and API tokens."""

from __future__ import annotations

import time

from stepwise.models.actions.sessions import (
    attempt_keys,
    count_attempt,
    is_idle,
    take_back_attempt,
    touch_if_due,
)
from stepwise.models.db import sql
from stepwise.models.db.accounts import ApiToken, Invitation, Membership, User
from stepwise.models.errors import DomainError, ErrorCode
from stepwise.models.queries.accounts import ALL_ROLES
from stepwise.models.validation import (
    normalize_email,
    require_strong_password,
    require_username,
)
from stepwise.permissions.session_rules import SessionRules
from stepwise.permissions.auth import (
    hash_password,
    new_token,
    plausible_token,
    token_digest,
    verify_password,
)
from tortoise.exceptions import IntegrityError


async def issue_token(user: User, label: str) -> str:
    token = new_token()
    async with sql.transaction():
        await ApiToken.create(user=user, token_hash=token_digest(token), label=label[:100], last_used=int(time.time()))
    return token


async def sign_up(username: str, email: str, password: str) -> tuple[User, str]:
    """Create an account; invitations sent to its e-mail address become memberships at once."""
    username = require_username(username)
    email = normalize_email(email)
    require_strong_password(password, username)
    if await User.filter(username__iexact=username).exists():
        raise DomainError(ErrorCode.ALREADY_EXISTS, "This username is taken.", "input.username")
    if await User.filter(email=email).exists():
        raise DomainError(ErrorCode.ALREADY_EXISTS, "An account already uses this e-mail address.", "input.email")
    password_hash = await hash_password(password)
    try:
        async with sql.transaction():
            user = await User.create(username=username, email=email, password_hash=password_hash)
            invitations = await Invitation.filter(email=email)
            for invitation in invitations:
                await Membership.create(organization_id=invitation.organization_id, user=user, role=invitation.role)
            await Invitation.filter(email=email).delete()
            token = await issue_token(user, "sign-up")
    except IntegrityError:
        # Lost a race with a concurrent sign-up for the same name or address.
        raise DomainError(ErrorCode.ALREADY_EXISTS, "This username or e-mail address is taken.") from None
    return user, token


async def log_in(username: str, password: str, address: str | None,
                 rules: SessionRules = SessionRules()) -> tuple[User, str]:
    """A new token for valid credentials; the same INVALID_CREDENTIALS for any failure, and past
    the limits of models/actions/sessions.py for any attempt (TooManyAttempts: how long to wait)."""
    keys = attempt_keys(username, address)
    await count_attempt(keys, rules)
    user = await User.get_or_none(username=username) if len(username) <= 40 else None
    if not await verify_password(user.password_hash if user else None, password[:1024]):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "Unknown username or wrong password.")
    await take_back_attempt(keys)
    return user, await issue_token(user, "log-in")


async def authenticate(token: str | None, rules: SessionRules) -> User | None:
    """The user behind a bearer token, or None for a missing, malformed, unknown or idle one
    (unused for longer than rules.token_idle_seconds)."""
    found = await authenticate_with_roles(token, rules, roles=False)
    return None if found is None else found[0]


async def authenticate_with_roles(token: str | None, rules: SessionRules, *,
                                  roles: bool = True) -> tuple[User, list] | None:
    """authenticate(), with the user's roles read in the same statement (("organization" or
    "dataset", id, role) rows, what roles_of_user returns): a request that checks a role then
    needs no round trip of its own for them."""
    if not token or not plausible_token(token):
        return None
    # Plain SQL, one statement: this runs on every authenticated request.
    columns, select = sql.model_columns(User, "u")
    source = 'api_token t JOIN "user" u ON u.id = t.user_id'
    if roles:
        source += f" LEFT JOIN ({ALL_ROLES}) r ON r.user_id = u.id"
    extra = ", r.scope, r.scope_id, r.role" if roles else ""
    rows = await sql.fetch(f"SELECT {select}, t.id, t.last_used{extra} FROM {source} WHERE t.token_hash = ?",
                           [token_digest(token)])
    if not rows:
        return None
    width = len(columns)
    token_id, last_used = rows[0][width:width + 2]
    if is_idle(last_used, rules):
        return None
    await touch_if_due(token_id, last_used)
    held = [tuple(row[width + 2:]) for row in rows if roles and row[width + 2] is not None]
    return sql.model_from_row(User, columns, rows[0][:width]), held


async def revoke_token(token: str | None) -> bool:
    """Revoke a bearer token at once (logOut): False when it was not a valid one."""
    if not token or not plausible_token(token):
        return False
    async with sql.transaction():
        return await sql.execute("DELETE FROM api_token WHERE token_hash = ?", [token_digest(token)]) > 0


async def revoked_among(digests: list[str]) -> list[str]:
    """The token digests of the list that name no token any more."""
    if not digests:
        return []
    marks = ",".join("?" * len(digests))
    kept = {row[0] for row in await sql.fetch(f"SELECT token_hash FROM api_token WHERE token_hash IN ({marks})", digests)}
    return [digest for digest in digests if digest not in kept]


async def create_token_for(username: str, label: str = "cli") -> str:
    """An API token for scripts (the `stepwise token create` command)."""
    user = await User.get_or_none(username=username)
    if user is None:
        raise DomainError(ErrorCode.INVALID_INPUT, f"No user named {username!r}.", "username")
    return await issue_token(user, label)
