"""Demo data: an organization with one user per role, a dataset, a version of 300 assets, and a
launched two-step campaign with tasks in every state.

Loaded through the same actions as the API. Idempotent: a second run finds the demo
organization and changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from stepwise.models.actions import accounts, assets, campaigns, datasets, launch, organizations, transitions
from stepwise.models.actions.issues import NewIssue
from stepwise.models.db.accounts import User
from stepwise.models.db.issues import IssueKind
from stepwise.models.db.lifecycle import open_database
from stepwise.models.queries.accounts import organization_named_exists
from stepwise.models.queries.tasks import tasks_at_position
from stepwise.models.shapes import ShapeDraft, ShapeKind
from stepwise.models.workflow import PreexistingStrategy, StepType, TaskAction
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
        if await organization_named_exists(DEMO_ORGANIZATION):
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
        await _demo_campaign(version.id, users)
        say(f"Loaded '{DEMO_ORGANIZATION}': {len(PEOPLE)} users, dataset 'Street scenes', {ASSET_COUNT} assets, "
            "a launched campaign.")
        return _credentials()


async def _demo_campaign(version_id: int, users: dict[str, User]) -> None:
    """Annotate (lou, cora) then Review (max); annotated assets go straight to review. Then some
    work: submissions, reviews, one rework and one skip, so every task status shows."""
    manager = Access(users["max"])
    campaign = await campaigns.create_campaign(manager, version_id)
    await campaigns.update_campaign(manager, campaign.id, preexisting_strategy=PreexistingStrategy.FIRST_QUALITY_CHECK)
    await campaigns.add_step(manager, campaign.id, "Annotate", StepType.ANNOTATION, [users["lou"].id, users["cora"].id], None)
    await campaigns.add_step(manager, campaign.id, "Review", StepType.REVIEW, [users["max"].id], None)
    await launch.launch_campaign(manager, campaign.id)
    shapes = [ShapeDraft("car", ShapeKind.RECTANGLE, [(10, 10), (200, 120)])]
    by_user = {name: Access(user) for name, user in users.items()}
    annotate = await tasks_at_position(campaign.id, 0, 12)
    for task in annotate[:10]:
        holder = next(name for name, user in users.items() if user.id == task.assignee_id)
        await transitions.perform(by_user[holder], task.id, TaskAction.SUBMIT, transitions.Request(shapes=shapes))
    review = await tasks_at_position(campaign.id, 1, 8)
    for task in review[:5]:
        await transitions.perform(manager, task.id, TaskAction.SUBMIT, transitions.Request())
    problem = NewIssue(IssueKind.IMAGE, "The box misses the second car on the left.")
    await transitions.perform(manager, review[5].id, TaskAction.SEND_TO_REWORK, transitions.Request(new_issue=problem))
    blurry = NewIssue(IssueKind.IMAGE, "Too blurry to annotate.")
    await transitions.perform(manager, review[6].id, TaskAction.SKIP, transitions.Request(new_issue=blurry))
