"""Issues: lookups, the viewer's issues, and raising, replying to, resolving and re-opening them."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions import issues
from stepwise.models.db.issues import CommentAction
from stepwise.models.queries.issues import my_issues
from stepwise.permissions.graphql import guard
from stepwise.permissions.operations import operation
from stepwise.resolvers.mutations.results import INPUT, payload_of
from stepwise.resolvers.mutations.tasks import new_issue
from stepwise.schema.campaign_inputs import CommentIssueInput, CreateIssueInput
from stepwise.schema.campaign_payloads import IssuePayload
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.enums import IssueStatus
from stepwise.schema.types.issues import Issue
from stepwise.subscriptions.publish import publish_committed

MY_ISSUES = operation("Query.myIssues")


@strawberry.type
class IssueQueries:
    @strawberry.field(description="An issue by ID; null with NOT_FOUND when the viewer cannot see its asset's task.", permission_classes=guard("Query.issue"))
    async def issue(self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The issue's ID.")]) -> Issue | None:
        row, _ = await issues.find_issue(info.context.access, decode_id(id, "Issue"))
        return Issue.from_row(row)

    @strawberry.field(description="Issues on the assets of the viewer's own active tasks, oldest first.", permission_classes=guard(MY_ISSUES))
    async def my_issues(
        self, info: Info,
        organization_id: Annotated[strawberry.ID, strawberry.argument(description="The organization's ID; NOT_FOUND unless the viewer is a member.")],
        status: Annotated[IssueStatus | None, strawberry.argument(description="Only issues in this status; all when omitted.")] = None,
    ) -> list[Issue]:
        org_id = decode_id(organization_id, "Organization")
        access = info.context.access
        await access.check(MY_ISSUES, org_id, what="Organization")
        rows = await my_issues(access.require_viewer().id, org_id, status)
        return [Issue.from_row(row) for row in rows]


async def _issue_payload(info: Info, run_action) -> IssuePayload:
    async def run() -> IssuePayload:
        row, event = await run_action()
        await publish_committed(info.context.bus, [event])
        return IssuePayload(issue=Issue.from_row(row))

    return await payload_of(IssuePayload, run)


def _comment(action: CommentAction):
    async def resolve(self, info: Info, input: Annotated[CommentIssueInput, INPUT]) -> IssuePayload:
        issue_id = decode_id(input.issue_id, "Issue")
        return await _issue_payload(info, lambda: issues.comment_issue(info.context.access, issue_id, action, input.body))

    return resolve


@strawberry.type
class IssueMutations:
    @strawberry.mutation(description="Raises an issue on an asset of an ONGOING or OVERDUE campaign, at its task's current step; its body is the first comment.",
                         permission_classes=guard("Mutation.createIssue"))
    async def create_issue(self, info: Info, input: Annotated[CreateIssueInput, INPUT]) -> IssuePayload:
        asset_id = decode_id(input.asset_id, "Asset")
        new = new_issue(input)  # the same kind, body and zone as a rework's or skip's issue
        return await _issue_payload(info, lambda: issues.create_issue(info.context.access, asset_id, new))

    reply_to_issue = strawberry.mutation(_comment(CommentAction.REPLIED), permission_classes=guard("Mutation.replyToIssue"),
                                         description="Replies in an issue's thread (a body is required).")
    resolve_issue = strawberry.mutation(_comment(CommentAction.RESOLVED), permission_classes=guard("Mutation.resolveIssue"),
                                        description="Resolves an OPEN issue, with an optional comment (else INVALID_STATE).")
    reopen_issue = strawberry.mutation(_comment(CommentAction.REOPENED), permission_classes=guard("Mutation.reopenIssue"),
                                       description="Re-opens a RESOLVED issue, with an optional comment (else INVALID_STATE).")
