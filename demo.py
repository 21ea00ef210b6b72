"""Demo data: an organization with one user per role, a dataset, a version of 300 assets.

Loaded through the same actions as the API. Idempotent: a second run finds the demo
organization and changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from stepwise.models.actions import accounts, assets, datasets, organizations
from stepwise.models.db.accounts import Organization, User
from stepwise.models.db.lifecycle import open_database
from stepwise.models.shapes import ShapeDraft, ShapeKind
from stepwise.permissions.access import Access
from stepwise.permissions.roles import DatasetRole, OrgRole

DEMO_ORGANIZATION = "Acme Vision (demo)"
DEMO_PASSWORD = "stepwise-demo-2026"
LABELS = ["car", "person", "bicycle", "traffic light"]
ASSET_COUNT = 300
# (username, organization role, dataset role or None)
PEOPLE = [
    ("ada", OrgRole.ADMIN, None),
    ("max", OrgRole.MEMBER, DatasetRole.MANAGER),
    ("cora", OrgRole.MEMBER, DatasetRole.CONTRIBUTOR),
    ("lou", OrgRole.UNPRIVILEGED, DatasetRole.LABELER),
    ("mel", OrgRole.MEMBER, None),
]


def _credentials() -> list[tuple[str, str, str, str]]:
    rows = []
    for name, org_role, dataset_role in PEOPLE:
        acting = "MANAGER (as ADMIN)" if org_role is OrgRole.ADMIN else (dataset_role or "-")
        rows.append((name, DEMO_PASSWORD, str(org_role), str(acting)))
    return rows


def _demo_assets(rng: random.Random) -> list[assets.AssetDraft]:
    drafts = []
    for index in range(ASSET_COUNT):
        width, height = rng.choice([(1920, 1080), (1280, 720), (1024, 768)])
        shapes = None
        if index % 3 == 0:  # a third arrive already annotated
            shapes = []
            for _ in range(rng.randint(1, 4)):
                x, y = rng.uniform(0, width - 200), rng.uniform(0, height - 200)
                w, h = rng.uniform(20, 200), rng.uniform(20, 200)
                shapes.append(ShapeDraft(rng.choice(LABELS), ShapeKind.RECTANGLE, [(x, y), (x + w, y + h)]))
        drafts.append(
            assets.AssetDraft(
                f"street_{index:04d}.jpg", width, height, f"https://images.example.com/street_{index:04d}.jpg", shapes
            )
        )
    return drafts


async def load_demo(database_url: str, say: Callable[[str], object] = print) -> list[tuple[str, str, str, str]]:
    """Create the demo data unless it exists; return the demo credentials either way."""
    async with open_database(database_url):
        if await Organization.filter(name=DEMO_ORGANIZATION).exists():
            say("Demo data is already loaded; nothing changed.")
            return _credentials()
        users: dict[str, User] = {}
        for name, _, _ in PEOPLE:
            users[name], _ = await accounts.sign_up(name, f"{name}@example.com", DEMO_PASSWORD)
        admin = Access(users["ada"])
        org = await organizations.create_organization(admin, DEMO_ORGANIZATION)
        for name, org_role, _ in PEOPLE[1:]:
            await organizations.invite_member(admin, org.id, name, org_role)
        manager = Access(users["max"])
        dataset = await datasets.create_dataset(manager, org.id, "Street scenes")
        for name, _, dataset_role in PEOPLE:
            if dataset_role and dataset_role is not DatasetRole.MANAGER:
                await datasets.add_dataset_worker(manager, dataset.id, users[name].id, dataset_role)
        version = await datasets.create_dataset_version(manager, dataset.id, "v1", LABELS)
        await assets.add_assets(manager, version.id, _demo_assets(random.Random(7)))
        say(f"Loaded '{DEMO_ORGANIZATION}': {len(PEOPLE)} users, dataset 'Street scenes', {ASSET_COUNT} assets.")
        return _credentials()
