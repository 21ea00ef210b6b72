"""A validation rule refusing abusive documents: too deep, too many aliases, too costly.

Cost counts every field once per item it may be resolved for: a field under `assets(first: 200)`
counts 200 times, under a plain list 5 times (a list with no page size). Introspection fields
(`__schema`, `__type`, ...) are free and do not deepen: GraphiQL's own query must always pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
    get_nullable_type,
)

from stepwise.schema.pagination import DEFAULT_PAGE, MAX_PAGE

UNPAGED_LIST_FACTOR = 5


@dataclass
class Measure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0


def _page_factor(field: FieldNode) -> int | None:
    """The page size a field asks for (`first`), the worst case for a variable, None without."""
    for argument in field.arguments or ():
        if argument.name.value == "first":
            return int(argument.value.value) if isinstance(argument.value, IntValueNode) else MAX_PAGE
    return None


def _list_factor(field: FieldNode, parent_type, field_def) -> int:
    page = _page_factor(field)
    if page is not None:
        return page
    if "first" in field_def.args:
        return DEFAULT_PAGE  # a paged field without `first` returns the default page
    field_type = field_def.type
    if isinstance(get_nullable_type(field_type), GraphQLList):
        # Edges of a connection are already counted by the connection's page size.
        return 1 if parent_type is not None and parent_type.name.endswith("Connection") else UNPAGED_LIST_FACTOR
    return 1


def _measure(selection_set: SelectionSetNode, parent_type, fragments, multiplier, depth, seen, total: Measure):
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name.startswith("__"):
                continue
            if selection.alias:
                total.aliases += 1
            total.cost += multiplier
            total.depth = max(total.depth, depth)
            # Object and interface types both have `fields`; unions have none to select directly.
            field_def = (getattr(parent_type, "fields", None) or {}).get(name)
            if selection.selection_set and field_def is not None:
                factor = _list_factor(selection, parent_type, field_def)
                _measure(selection.selection_set, get_named_type(field_def.type), fragments,
                         multiplier * factor, depth + 1, seen, total)
        elif isinstance(selection, InlineFragmentNode):
            _measure(selection.selection_set, parent_type, fragments, multiplier, depth, seen, total)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and fragment.name.value not in seen:
                _measure(fragment.selection_set, parent_type, fragments, multiplier, depth,
                         seen | {fragment.name.value}, total)


def query_limits_rule(max_depth: int, max_aliases: int, max_cost: int) -> type[ValidationRule]:
    """A graphql-core rule class enforcing the configured limits with BAD_REQUEST errors."""

    class QueryLimits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args):
            schema = self.context.schema
            root = schema.get_root_type(node.operation)
            fragments = {
                d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            total = Measure()
            _measure(node.selection_set, root, fragments, 1, 1, frozenset(), total)
            for label, value, limit in (
                ("deep", total.depth, max_depth),
                ("many aliases", total.aliases, max_aliases),
                ("costly", total.cost, max_cost),
            ):
                if value > limit:
                    self.report_error(
                        GraphQLError(
                            f"Query is too {label}: {value} > {limit}.", node, extensions={"code": "BAD_REQUEST"}
                        )
                    )

    return QueryLimits
