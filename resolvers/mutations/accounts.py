"""Mutations of accounts and organizations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions import accounts, organizations
from stepwise.models.actions.sessions import TooManyAttempts
from stepwise.models.events import TokenRevoked
from stepwise.permissions.auth import token_digest
from stepwise.permissions.graphql import guard
from stepwise.resolvers.mutations.results import INPUT, payload_of
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.inputs import CreateOrganizationInput, InviteMemberInput, LogInInput, SignUpInput
from stepwise.schema.payloads import AuthPayload, InviteMemberPayload, LogOutPayload, OrganizationPayload
from stepwise.schema.types.accounts import Invitation, Membership, Organization, User
from stepwise.subscriptions.publish import publish_committed


@strawberry.type
class AccountMutations:
    @strawberry.mutation(description="Create an account and get a token. Pending invitations to its e-mail are accepted.",
                        permission_classes=guard("Mutation.signUp"))
    async def sign_up(self, info: Info, input: Annotated[SignUpInput, INPUT]) -> AuthPayload:
        async def run() -> AuthPayload:
            user, token = await accounts.sign_up(input.username, input.email, input.password)
            info.context.access.viewer = user  # the caller is now this user (sees their own e-mail)
            return AuthPayload(token=token, user=User.from_row(user))

        return await payload_of(AuthPayload, run)

    @strawberry.mutation(description="Exchange a username and password for a new token.", permission_classes=guard("Mutation.logIn"))
    async def log_in(self, info: Info, input: Annotated[LogInInput, INPUT]) -> AuthPayload:
        async def run() -> AuthPayload:
            client = getattr(info.context.request, "client", None)
            address = client.host if client else None
            try:
                user, token = await accounts.log_in(input.username, input.password, address,
                                                    info.context.settings.session_rules)
            except TooManyAttempts as refused:  # the payload says INVALID_CREDENTIALS; HTTP says wait
                if info.context.response is not None:  # None over a websocket
                    info.context.response.status_code = 429
                    info.context.response.headers["Retry-After"] = str(refused.retry_after)
                raise
            info.context.access.viewer = user
            return AuthPayload(token=token, user=User.from_row(user))

        return await payload_of(AuthPayload, run)

    @strawberry.mutation(
        description="Revokes the bearer token of this request, at once, for HTTP and open websockets "
        "(those opened with it are closed with 4401 within a second, in every server process).",
        permission_classes=guard("Mutation.logOut"),
    )
    async def log_out(self, info: Info) -> LogOutPayload:
        revoked = await accounts.revoke_token(info.context.token)
        if revoked:  # after commit: every process closes the websockets opened with the token
            await publish_committed(info.context.bus, [TokenRevoked(token_digest(info.context.token))])
        return LogOutPayload(revoked=revoked)

    @strawberry.mutation(description="Create an organization; you become its ADMIN.", permission_classes=guard("Mutation.createOrganization"))
    async def create_organization(self, info: Info, input: Annotated[CreateOrganizationInput, INPUT]) -> OrganizationPayload:
        async def run() -> OrganizationPayload:
            row = await organizations.create_organization(info.context.access, input.name)
            return OrganizationPayload(organization=Organization.from_row(row))

        return await payload_of(OrganizationPayload, run)

    @strawberry.mutation(
        description="Add someone to an organization (ADMIN only): at once for an existing user, by invitation "
        "for an unknown e-mail address.",
        permission_classes=guard("Mutation.inviteMember"),
    )
    async def invite_member(self, info: Info, input: Annotated[InviteMemberInput, INPUT]) -> InviteMemberPayload:
        org_id = decode_id(input.organization_id, "Organization")

        async def run() -> InviteMemberPayload:
            membership, invitation = await organizations.invite_member(
                info.context.access, org_id, input.username_or_email, input.role
            )
            return InviteMemberPayload(
                membership=Membership(row=membership) if membership else None,
                invitation=Invitation(row=invitation) if invitation else None,
            )

        return await payload_of(InviteMemberPayload, run)
