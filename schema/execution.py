"""A faster path through graphql-core for plain leaf fields.

Most fields of a page are scalars or enums read straight off an attribute (`Task.version`,
`User.username`): strawberry gives them no resolver of their own. graphql-core still builds a
resolve info, argument values and a completion chain for each of them, about half the cost of a
page of 100 tasks. This execution context answers such a field with `getattr` and the type's own
output coercion; anything else (a resolver, a null, a value the type refuses, any extension that
wraps resolvers) takes graphql-core's normal path, so answers and errors stay exactly the same.
"""

from __future__ import annotations

import weakref
from typing import Any

from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema, Undefined, is_leaf_type
from graphql.pyutils import RefMap
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

# {object type: {field name: (attribute name, leaf type)}}, computed once per schema.
PlainLeaves = dict[GraphQLObjectType, dict[str, tuple[str, Any]]]
_plain_leaves_by_schema: weakref.WeakKeyDictionary[GraphQLSchema, PlainLeaves] = weakref.WeakKeyDictionary()


def plain_leaves(schema: GraphQLSchema) -> PlainLeaves:
    """The fields answered by reading an attribute: strawberry fields with no resolver and no
    field extension (strawberry's own "basic" fields) whose type is a scalar or an enum."""
    found = _plain_leaves_by_schema.get(schema)
    if found is None:
        found = {}
        for graphql_type in schema.type_map.values():
            if not isinstance(graphql_type, GraphQLObjectType):
                continue
            for name, field in graphql_type.fields.items():
                definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field.extensions else None
                leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
                if (definition is not None and definition.is_basic_field and getattr(field.resolve, "_is_default", False)
                        and definition.default_resolver is getattr and is_leaf_type(leaf)):
                    found.setdefault(graphql_type, {})[name] = (definition.python_name, leaf)
        _plain_leaves_by_schema[schema] = found
    return found


class PlainLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the plain-leaf path (off when an extension wraps
    resolvers: it must see every field), and subscription events that keep nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wraps_resolvers = self.middleware_manager is not None and self.middleware_manager.middlewares
        self._plain_leaves = {} if wraps_resolvers else plain_leaves(self.schema)

    def build_per_event_executor(self, payload: Any):  # noqa: ANN201
        """graphql-core 3.3.2 runs each subscription event on a shallow copy of the subscription's
        executor, so the copies share its memo of collected subfields, keyed by the identity of
        lists that every event builds anew: the memo kept every event's entries for as long as
        the subscription lived (a soak's 2 subscriptions grew the server by 20 MB in 4 minutes;
        docs/reliability.md, "Soak"). Each event gets memos of its own, as a query does."""
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._stream_usages = RefMap()
        return executor

    def execute_field(self, parent_type, source, field_details_list, path, position_context):  # noqa: ANN001, ANN201
        plain = self._plain_leaves.get(parent_type)
        if plain is not None:
            found = plain.get(field_details_list[0].node.name.value)
            if found is not None:
                attribute, leaf = found
                try:
                    coerced = leaf.coerce_output_value(getattr(source, attribute))
                except Exception:  # noqa: BLE001 - e.g. a Deferred value: graphql-core awaits it below
                    coerced = None
                if coerced is not None and coerced is not Undefined:
                    return coerced
        # A resolver, a null, an awaitable or a value the type refuses: graphql-core answers
        # (and words the error) as it would without this path.
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
