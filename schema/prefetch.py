"""Which fields a query selects below a connection's nodes, to load them for a whole page at once.

A page of 100 tasks asks for step, assignee, asset and openIssueCount: through DataLoaders that
is ~400 coroutines and futures per page. Loading each relation once for the page and answering
the fields synchronously halves the page's cost (docs/benchmarks.md).
"""

from __future__ import annotations

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField


def _fields(selections) -> dict[str, SelectedField]:
    found: dict[str, SelectedField] = {}
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.setdefault(selection.name, selection)
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            found.update({k: v for k, v in _fields(selection.selections).items() if k not in found})
    return found


def node_fields(info) -> set[str]:
    """Names of the fields selected on `edges { node { ... } }` of the current connection field."""
    names: set[str] = set()
    for field in info.selected_fields:
        edges = _fields(field.selections).get("edges")
        node = _fields(edges.selections).get("node") if edges else None
        if node is not None:
            names |= set(_fields(node.selections))
    return names
