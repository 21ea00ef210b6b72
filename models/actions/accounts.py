"""Accounts: sign-up (turning pending invitations into memberships), log-in and API tokens."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.accounts import ApiToken, Invitation, Membership, User
from stepwise.models.errors import DomainError, ErrorCode
from stepwise.models.validation import (
    normalize_email,
    require_strong_password,
    require_username,
)
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
        await ApiToken.create(user=user, token_hash=token_digest(token), label=label[:100])
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


async def log_in(username: str, password: str) -> tuple[User, str]:
    """A new token for valid credentials; the same INVALID_CREDENTIALS for any failure."""
    user = await User.get_or_none(username=username) if len(username) <= 40 else None
    if not await verify_password(user.password_hash if user else None, password[:1024]):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "Unknown username or wrong password.")
    return user, await issue_token(user, "log-in")


async def authenticate(token: str | None) -> User | None:
    """The user behind a bearer token, or None for a missing, malformed or unknown one."""
    if not token or not plausible_token(token):
        return None
    # Plain SQL: this runs on every authenticated request.
    users = await sql.fetch_models(User, "id = (SELECT user_id FROM api_token WHERE token_hash = ?)", [token_digest(token)])
    return users[0] if users else None


async def create_token_for(username: str, label: str = "cli") -> str:
    """An API token for scripts (the `stepwise token create` command)."""
    user = await User.get_or_none(username=username)
    if user is None:
        raise DomainError(ErrorCode.INVALID_INPUT, f"No user named {username!r}.", "username")
    return await issue_token(user, label)
