"""The argument models checked against Clerk's spec (spec/bapi-2026-05-12.yml), operation by operation.

For each operation the model's fields are exactly the spec's path and query parameters plus its
request-body properties — minus fields that shape the result locally (`Operation.local_fields`, e.g.
`view`), and with the documented mapping of the multipart `file` part to `file_base64` + `filename`.
Types, enums, bounds and required-ness are compared on the published (compact) input schema.
"""

from __future__ import annotations

import re

from typing import Any

import pytest

from clerk_mcp.operations import OPERATIONS, Operation, compact_schema

from conftest import spec_body, spec_operation, spec_parameters, spec_property_schema

# The one documented difference: a multipart upload's binary part becomes base64 text plus a filename.
MULTIPART_MAPPING = {"file": {"file_base64", "filename"}}


def spec_fields(op: Operation) -> dict[str, tuple[dict[str, Any], bool]]:
    """name -> (spec schema, required) for every parameter and body property of the operation."""
    fields = {
        name: (spec_property_schema(p.get("schema", {})), bool(p.get("required")))
        for name, p in spec_parameters(op.operation_id).items()
    }
    content_type, body = spec_body(op.operation_id)
    if content_type == "application/json":
        required = set(body.get("required", []))
        for name, prop in body.get("properties", {}).items():
            fields[name] = (spec_property_schema(prop), name in required)
    return fields


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_method_and_path_match_the_spec(op):
    method, path, _ = spec_operation(op.operation_id)
    assert (op.method, op.path) == (method, path)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_model_fields_are_exactly_the_spec_parameters(op):
    expected = set(spec_fields(op))
    content_type, body = spec_body(op.operation_id)
    if content_type == "multipart/form-data":
        assert set(body["properties"]) == set(MULTIPART_MAPPING)
        for part in body["properties"]:
            expected |= MULTIPART_MAPPING[part]
    assert set(op.args.model_fields) - op.local_fields == expected
    assert op.local_fields <= set(op.args.model_fields)


# Bodies the spec leaves open (no `additionalProperties: false`); the tools still refuse unknown arguments there.
OPEN_BODIES = {"CreateEmailAddress", "UpdateEmailAddress", "CreatePhoneNumber", "UpdatePhoneNumber", "UsersBan", "UsersUnban"}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_bodies_forbid_unknown_properties_like_the_spec(op):
    content_type, body = spec_body(op.operation_id)
    if content_type == "application/json":
        assert (body.get("additionalProperties") is False) != (op.operation_id in OPEN_BODIES)
    assert op.args.model_config.get("extra") == "forbid"


def _json_type(schema: dict[str, Any]) -> str | None:
    if "type" in schema:
        return schema["type"]
    if "anyOf" in schema:
        types = {a.get("type") for a in schema["anyOf"]}
        return types.pop() if len(types) == 1 else None
    return None


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_types_enums_limits_and_required_agree(op):
    published = compact_schema(op.args)
    properties = published["properties"]
    required = set(published.get("required", []))
    for name, (spec_schema, spec_required) in spec_fields(op).items():
        ours = properties[name]
        where = f"{op.name}.{name}"
        spec_type = spec_schema.get("type")
        if spec_type is not None:
            assert _json_type(ours) == spec_type, where
        if spec_type == "array":
            item = spec_property_schema(spec_schema.get("items", {}))
            assert _json_type(ours["items"]) == item.get("type"), where
            if "enum" in item:
                assert set(ours["items"]["enum"]) == set(item["enum"]), where
        if "enum" in spec_schema:
            assert set(ours["enum"]) == set(spec_schema["enum"]), where
        for bound in ("minimum", "maximum"):
            if bound in spec_schema:
                assert ours.get(bound) == spec_schema[bound], (where, bound)
        if "default" in spec_schema and name not in ("order_by",):
            assert ours.get("default", spec_schema["default"]) == spec_schema["default"], where
        assert (name in required) == spec_required, (where, "required")


def test_limits_and_offsets():
    """The pagination components as the spec defines them: limit 1..500 (default 10), offset >= 0 (default 0)."""
    seen = 0
    paginated = [op for op in OPERATIONS if "limit" in spec_parameters(op.operation_id)]
    for op in OPERATIONS:
        schema = compact_schema(op.args)["properties"]
        if "limit" in schema:
            seen += 1
            assert (schema["limit"]["type"], schema["limit"]["minimum"], schema["limit"]["maximum"]) == ("integer", 1, 500)
            assert schema["limit"]["default"] == 10
            assert (schema["offset"]["type"], schema["offset"]["minimum"], schema["offset"]["default"]) == ("integer", 0, 0)
    assert seen == len(paginated) >= 3  # get_user_list, organization memberships, OAuth tokens, ...


def test_profile_image_mapping_is_documented_in_the_schema():
    (op,) = [op for op in OPERATIONS if spec_body(op.operation_id)[0] == "multipart/form-data"]
    schema = compact_schema(op.args)
    assert schema["properties"]["file_base64"]["type"] == "string"
    pattern = re.compile(schema["properties"]["filename"]["pattern"])
    assert all(pattern.search(name) for name in ("a.png", "b.JPG", "c.jpeg", "d.Gif", "e.webp"))
    assert not any(pattern.search(name) for name in ("a.txt", "png", "dir/a.png", "a.png.exe"))
    assert {"file_base64", "filename", "user_id"} <= set(schema["required"])


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.body_kind == "json"], ids=lambda op: op.name)
def test_explicit_null_is_accepted_exactly_where_the_spec_says_nullable(op):
    """Null is sent to Clerk as null (e.g. `username: null` removes it); where Clerk would refuse it, we do first."""
    from pydantic import ValidationError

    _, body = spec_body(op.operation_id)
    given = {name: "user_x" for name in op.path_params}
    for name in body.get("required", []):  # a valid value for every required property but the one tried with null
        schema = spec_property_schema(body["properties"][name])
        given[name] = schema["enum"][0] if "enum" in schema else {
            "string": "user_x", "integer": 1, "boolean": True, "array": ["user_x"],
        }[schema["type"]]
    for name, prop in body.get("properties", {}).items():
        nullable = bool(spec_property_schema(prop).get("nullable"))
        try:
            op.args.model_validate({**given, name: None})
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted is nullable, f"{op.name}.{name}: spec nullable={nullable}, model accepts null={accepted}"
