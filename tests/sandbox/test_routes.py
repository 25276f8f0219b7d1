"""The /v1 routes come from the operation table, one handler per operation."""

from __future__ import annotations

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.sandbox.app import v1_routes
from clerk_mcp.sandbox.app import HANDLERS


def test_every_operation_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == {op.name for op in OPERATIONS}


def test_routes_follow_the_table() -> None:
    routes = {(route.name, route.path, *route.methods - {"HEAD"}) for route in v1_routes()}
    expected = {(op.name, op.path, op.method) for op in OPERATIONS}
    assert routes == expected


def test_literal_paths_come_before_parameterised_ones() -> None:
    paths = [route.path for route in v1_routes()]
    assert paths.index("/users/count") < paths.index("/users/{user_id}")
