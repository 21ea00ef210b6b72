"""The strawberry Schema: roots composed from per-area classes, and every extension in one place."""

from __future__ import annotations

from contextlib import aclosing

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import PreExecutionError

from stepwise.config import Settings
from stepwise.resolvers.campaign_queries import CampaignQueries
from stepwise.resolvers.mutations.campaigns import CampaignMutations
from stepwise.resolvers.mutations.tasks import TaskMutations
from stepwise.resolvers.issue_operations import IssueMutations, IssueQueries
from stepwise.resolvers.notifications import NotificationMutations, NotificationQueries
from stepwise.resolvers.mutations.accounts import AccountMutations
from stepwise.resolvers.mutations.datasets import DatasetMutations
from stepwise.resolvers.mutations.imports import ImportMutations
from stepwise.resolvers.queries import AccountQueries, DatasetQueries, NodeQueries
from stepwise.schema.errors import ErrorPolicy, with_code
from stepwise.schema.execution import PlainLeafExecutionContext
from stepwise.schema.limits import query_limits_rule
from stepwise.schema.variable_coercion import install as install_variable_coercion
from stepwise.schema.variable_depth import install as install_variable_depth
from stepwise.subscriptions.fields import Subscription
from stepwise.schema.types import accounts, assets, datasets

MAX_TOKENS = 20_000
# graphql-core's nesting walk of variables, only for types that can nest too deeply (variable_depth.py).
install_variable_depth()
# graphql-core's coercion of variables, each input type's walk worked out once (variable_coercion.py).
install_variable_coercion()


@strawberry.type(description="Everything a client can read.")
class Query(NodeQueries, AccountQueries, DatasetQueries, CampaignQueries, IssueQueries, NotificationQueries):
    pass


@strawberry.type(description="Everything a client can change.")
class Mutation(AccountMutations, DatasetMutations, ImportMutations, CampaignMutations, TaskMutations, IssueMutations, NotificationMutations):
    pass


# Concrete Node types that are reached only through the interface must be listed explicitly.
NODE_TYPES = [accounts.User, accounts.Organization, datasets.Dataset, datasets.DatasetVersion, datasets.Label, assets.Asset]


class StepwiseSchema(strawberry.Schema):
    async def stream(self, *args, **kwargs):
        """Websockets run documents through here. A syntax error escapes strawberry's parse hook
        as an exception (the handlers then end the operation with a bare `complete`, or nothing):
        it becomes the coded error result an HTTP client would get."""
        return errors_as_results(await super().stream(*args, **kwargs))

    def process_errors(self, errors, execution_context=None) -> None:
        """Expected errors (NOT_FOUND, FORBIDDEN, ...) are answers, not incidents: log nothing here.
        Unexpected ones are logged, with their request id, by ErrorPolicy when it masks them."""


async def errors_as_results(results):
    try:
        async with aclosing(results):
            async for result in results:
                yield result
    except GraphQLError as error:
        yield PreExecutionError(data=None, errors=[with_code(error)])


def build_schema(settings: Settings) -> strawberry.Schema:
    limits_rule = query_limits_rule(settings.max_query_depth, settings.max_aliases, settings.max_query_cost)
    return StepwiseSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        config=StrawberryConfig(),
        execution_context_class=PlainLeafExecutionContext,
        # Factories, not instances: an extension keeps per-operation state.
        extensions=[
            ErrorPolicy,
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: AddValidationRules([limits_rule]),
            lambda: ParserCache(maxsize=1000),
            lambda: ValidationCache(maxsize=1000),
        ],
    )
