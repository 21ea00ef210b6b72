"""What field resolvers of schema/types fetch: rows, one module per area; the types wrap them.

These modules import no `stepwise.schema.types` (the types import them; tests/test_architecture.py).
"""
