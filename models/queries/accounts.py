"""Read side of accounts: a viewer's roles, organizations by name."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.accounts import Organization

ROLES_OF_USER = (
    "SELECT 'organization', organization_id, role FROM membership WHERE user_id = ?"
    " UNION ALL SELECT 'dataset', dataset_id, role FROM dataset_worker WHERE user_id = ?"
)
# Every role of every user, to join on user_id (authentication reads the viewer's with its token).
ALL_ROLES = (
    "SELECT 'organization' AS scope, organization_id AS scope_id, role, user_id FROM membership"
    " UNION ALL SELECT 'dataset', dataset_id, role, user_id FROM dataset_worker"
)


async def roles_of_user(user_id: int) -> list:
    """("organization", id, role) and ("dataset", id, role) rows of every role the user holds,
    in one round trip (plain SQL: this runs on every request)."""
    return await sql.fetch(ROLES_OF_USER, [user_id, user_id])


# Users per statement of roles_of_users: each appears twice, so a statement stays far under
# PostgreSQL's (and sql's numbering's) bound on parameters, whatever the number of subscribers.
ROLES_PER_READ = 1_000


async def roles_of_users(user_ids: list[int]) -> dict[int, list]:
    """{user id: their roles_of_user rows} for several users, one round trip per ROLES_PER_READ
    users (the subscribers of a stream re-checked at an event, subscriptions/org_reads.py); a
    user without roles maps to an empty list."""
    from stepwise.models.queries.rows import in_list

    found: dict[int, list] = {user_id: [] for user_id in user_ids}
    for start in range(0, len(user_ids), ROLES_PER_READ):
        chunk = user_ids[start:start + ROLES_PER_READ]
        ids = in_list(chunk)
        rows = await sql.fetch(
            f"SELECT 'organization', organization_id, role, user_id FROM membership WHERE user_id IN ({ids})"
            f" UNION ALL SELECT 'dataset', dataset_id, role, user_id FROM dataset_worker WHERE user_id IN ({ids})",
            [*chunk, *chunk])
        for scope, key, role, user_id in rows:
            found[user_id].append((scope, key, role))
    return found


async def organizations_by_name(organization_ids: list[int]) -> list[Organization]:
    """These organizations, by name."""
    return await Organization.filter(id__in=organization_ids).order_by("name", "id")


async def organization_named_exists(name: str) -> bool:
    return await Organization.filter(name=name).exists()


async def user_rows_by_id(user_ids: list[int]) -> dict:
    """{id: User} of these users (the missing ones left out), in one query."""
    from stepwise.models.db.accounts import User
    from stepwise.models.queries.rows import in_list

    return {user.id: user for user in await sql.fetch_models(User, f"id IN ({in_list(user_ids)})", list(user_ids))}
