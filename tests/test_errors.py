"""Errors reach the model as one actionable line plus structured details — never empty, never a traceback,
never the secret key — and hostile path parameters never reach any request.

Documented error statuses are read from the spec for each operation.
"""

from __future__ import annotations

import logging

import anyio

import httpx
import pytest
import stamina
from mcp.client import Client

from clerk_mcp.adapter import ClerkClient
from clerk_mcp.operations import BY_NAME, OPERATIONS

from conftest import APPROVE, SECRET_KEY, answering, USER_ID, FakeClerk, all_output, spec_arguments, spec_error_statuses, text_of
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

CODES = {
    400: "bad_request",
    401: "authentication_invalid",
    402: "payment_required",
    403: "authorization_invalid",
    404: "resource_not_found",
    409: "duplicate_record",
    422: "form_param_format_invalid",
    500: "internal_clerk_error",
}


@pytest.fixture(autouse=True)
def no_backoff():
    """Retries keep their attempt counts but do not sleep."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


def clerk_error(status: int, trace: str = "trace_abc123") -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "errors": [
                {
                    "message": "short message",
                    "long_message": f"Long message for {status}",
                    "code": CODES[status],
                    "meta": {"param_name": "user_id"},
                }
            ],
            "clerk_trace_id": trace,
        },
    )


def assert_clean_error(result, *, secret: str = SECRET_KEY) -> str:
    assert result.is_error
    text = text_of(result)
    assert text.strip(), "never an empty message"
    assert "\n" not in text, "one line"
    assert "Traceback" not in all_output(result) and "Error executing tool" not in text
    assert secret not in all_output(result)
    return text


CASES = [(op, status) for op in OPERATIONS for status in spec_error_statuses(op.operation_id)]


@pytest.mark.parametrize(("op", "status"), CASES, ids=[f"{op.name}-{s}" for op, s in CASES])
async def test_documented_error_statuses(clerk: FakeClerk, server_factory, op, status):
    clerk.fail = clerk_error(status)
    async with Client(server_factory(confirm="approve")) as client:
        result = await client.call_tool(op.name, spec_arguments(op, required_only=True))
    text = assert_clean_error(result)
    assert text == f"{status} {CODES[status]}: Long message for {status}"
    details = payload(result)
    assert details["status"] == status
    assert details["code"] == CODES[status]
    assert details["clerk_trace_id"] == "trace_abc123"
    assert details["errors"][0]["meta"] == {"param_name": "user_id"}
    assert clerk.requests, "the request was sent"
    # Only 5xx is retried, and only for idempotent non-POST requests.
    expected_attempts = 4 if status >= 500 and op.idempotent and op.method != "POST" else 1
    assert len(clerk.requests) == expected_attempts


def test_every_operation_documents_at_least_one_error():
    assert all(spec_error_statuses(op.operation_id) for op in OPERATIONS)


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_error_status_without_a_body(clerk: FakeClerk, server_factory, status):
    clerk.fail = httpx.Response(status)
    async with Client(server_factory()) as client:
        result = await client.call_tool("verify_password", {"user_id": USER_ID, "password": "pw"})
    text = assert_clean_error(result)
    assert text.startswith(f"{status} http_error: HTTP {status}")
    assert payload(result)["status"] == status


async def test_timeout(clerk: FakeClerk, server_factory):
    clerk.fail = httpx.ReadTimeout("read timed out")
    async with Client(server_factory()) as client:
        result = await client.call_tool("get_user", {"user_id": USER_ID})
    text = assert_clean_error(result)
    assert "did not answer in time" in text
    assert payload(result)["error"] == "timeout"


async def test_connection_refused(clerk: FakeClerk, server_factory):
    clerk.fail = httpx.ConnectError("[Errno 111] Connection refused")
    async with Client(server_factory(), elicitation_callback=answering("accept", APPROVE)) as client:
        result = await client.call_tool("delete_user", {"user_id": USER_ID})  # elicit mode: fails at the re-fetch
        result2 = await client.call_tool("create_user", {"first_name": "A"})
    for r in (result, result2):
        text = assert_clean_error(r)
        assert text == "could not connect to http://clerk.test"
        assert payload(r)["error"] == "unavailable"
    # A request that never left is safe to retry, whatever its method: 4 attempts each.
    assert clerk.sent.count(("POST", "/v1/users")) == 4
    assert ("DELETE", f"/v1/users/{USER_ID}") not in clerk.sent


async def test_non_json_502(clerk: FakeClerk, server_factory):
    clerk.fail = httpx.Response(502, text="<html><body>Bad Gateway</body></html>")
    async with Client(server_factory()) as client:
        result = await client.call_tool("get_user", {"user_id": USER_ID})
        post = await client.call_tool("create_user", {"first_name": "A"})
    text = assert_clean_error(result)
    assert text == "502 http_error: HTTP 502 Bad Gateway"
    assert payload(result)["status"] == 502
    assert "<html>" not in text
    assert_clean_error(post)
    # The GET was retried; the POST (which may have happened) was not.
    assert clerk.sent.count(("GET", f"/v1/users/{USER_ID}")) == 4
    assert clerk.sent.count(("POST", "/v1/users")) == 1


async def test_non_json_success_body(clerk: FakeClerk, server_factory):
    clerk.fail = httpx.Response(200, text="OK")
    async with Client(server_factory()) as client:
        result = await client.call_tool("get_user", {"user_id": USER_ID})
    assert assert_clean_error(result) == "HTTP 200 with a body that is not JSON"
    assert payload(result) == {"error": "bad_response", "message": "HTTP 200 with a body that is not JSON", "status": 200}


async def test_429_is_retried_after_retry_after(clerk: FakeClerk, server_factory):
    answers = iter([httpx.Response(429, headers={"Retry-After": "1"}, json={"errors": []}), None])

    def flaky(request):
        answer = next(answers)
        return answer if answer is not None else httpx.Response(200, json={"verified": True})

    clerk.override("POST", f"/v1/users/{USER_ID}/verify_password", flaky)
    async with Client(server_factory()) as client:
        result = await client.call_tool("verify_password", {"user_id": USER_ID, "password": "pw"})
    assert not result.is_error and result.structured_content == {"verified": True}
    assert len(clerk.requests) == 2  # a 429 means Clerk did nothing: even a POST is retried


async def test_429_that_persists(clerk: FakeClerk, server_factory):
    clerk.fail = httpx.Response(
        429,
        headers={"Retry-After": "3"},
        json={"errors": [{"message": "Too many requests", "long_message": "Too many requests, retry later", "code": "too_many_requests"}]},
    )
    async with Client(server_factory()) as client:
        result = await client.call_tool("get_users_count", {})
    assert assert_clean_error(result) == "429 too_many_requests: Too many requests, retry later"
    assert payload(result)["status"] == 429
    assert payload(result)["retry_after_seconds"] == 3
    # Retry-After (3 s) is longer than the deadline leaves (2 s): answered at once instead of slept on.
    assert len(clerk.requests) == 1


async def test_no_secret_in_any_error_output_or_log(clerk: FakeClerk, server_factory, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "mcp", "clerk_mcp"):
        caplog.set_level(logging.DEBUG, logger=name)
    failures = [
        clerk_error(401),
        httpx.Response(502, text="upstream down"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.Response(200, text="not json"),
    ]
    outputs = []
    async with Client(server_factory()) as client:
        for failure in failures:
            clerk.fail = failure
            for op in OPERATIONS:
                if op.name in ("get_user", "create_user", "verify_totp", "update_user_metadata"):
                    outputs.append(await client.call_tool(op.name, spec_arguments(op, required_only=True)))
    for result in outputs:
        assert_clean_error(result)
    captured = capfd.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert SECRET_KEY not in everything
    assert SECRET_KEY[8:] not in everything  # not even the key without its prefix
    assert "Traceback" not in captured.err


# --- path injection -------------------------------------------------------------------------------------------

HOSTILE_IDS = ["x/ban", "../users", "%2F", "", "u" * 10_240, "user_1?limit=500", "user_1#frag", " user_1", "user_1\n", "..", "user_1/../..", "ü"]
PATH_TOOLS = [op for op in OPERATIONS if "user_id" in op.path_params]


@pytest.mark.parametrize("user_id", HOSTILE_IDS, ids=lambda v: repr(v[:12]) + (f"..{len(v)}" if len(v) > 12 else ""))
async def test_hostile_user_ids_never_reach_a_request(clerk: FakeClerk, server_factory, user_id):
    async with Client(server_factory(confirm="approve")) as client:
        for op in PATH_TOOLS:
            arguments = {**spec_arguments(op, required_only=True), "user_id": user_id}
            result = await client.call_tool(op.name, arguments)
            text = assert_clean_error(result)
            assert "user_id" in text
            assert len(text) < 500, "the 10 kB value is not echoed back"
    assert clerk.requests == []


@pytest.mark.parametrize("provider", ["../ban", "oauth_google/x", "%2F", "", "oauth_google?x=1"])
async def test_hostile_provider_never_reaches_a_request(clerk: FakeClerk, server_factory, provider):
    async with Client(server_factory(confirm="approve")) as client:
        result = await client.call_tool("get_o_auth_access_token", {"user_id": USER_ID, "provider": provider})
    assert "provider" in assert_clean_error(result)
    assert clerk.requests == []


def test_adapter_percent_encodes_path_parameters_as_a_second_lock():
    """Even arguments that skipped validation cannot leave their path segment."""
    client = ClerkClient(SECRET_KEY, api_url="http://clerk.test")
    op = BY_NAME["ban_user"]
    args = op.args.model_construct(user_id="x/../../users?limit=1#")
    request = client.build_request(op, args)
    assert request.url.raw_path == b"/v1/users/x%2F..%2F..%2Fusers%3Flimit%3D1%23/ban"
    assert request.url.query == b""


async def test_multi_line_clerk_message_becomes_one_line(clerk: FakeClerk, server_factory):
    clerk.fail = httpx.Response(
        422,
        json={"errors": [{"message": "x", "long_message": "first line\nsecond line\r\n\tthird", "code": "form_param_invalid"}]},
    )
    async with Client(server_factory()) as client:
        result = await client.call_tool("create_user", {"first_name": "A"})
    assert assert_clean_error(result) == "422 form_param_invalid: first line second line third"
    # The details keep Clerk's own text untouched.
    assert payload(result)["errors"][0]["long_message"] == "first line\nsecond line\r\n\tthird"


@pytest.mark.parametrize("body", [{"errors": "nope"}, {"errors": [1, 2]}, {"errors": []}, [], "text", {"unexpected": True}])
async def test_malformed_error_bodies_still_give_a_clear_line(clerk: FakeClerk, server_factory, body):
    clerk.fail = httpx.Response(400, json=body)
    async with Client(server_factory()) as client:
        result = await client.call_tool("verify_totp", {"user_id": USER_ID, "code": "1"})
    text = assert_clean_error(result)
    assert text.startswith("400 ")
    assert payload(result)["status"] == 400


async def test_retry_after_is_waited_for(clerk: FakeClerk, server_factory):
    answers = iter([httpx.Response(429, headers={"Retry-After": "1.5"}), httpx.Response(200, json={"object": "total_count", "total_count": 7})])
    times: list[float] = []

    def handler(request):
        times.append(anyio.current_time())
        return next(answers)

    clerk.override("GET", "/v1/users/count", handler)
    with stamina.set_testing(False):  # real waits for this one
        async with Client(server_factory()) as client:
            result = await client.call_tool("get_users_count", {})
    assert result.structured_content == {"object": "total_count", "total_count": 7}
    assert len(times) == 2
    # Longer than any default backoff (0.2 s + up to 1 s jitter): the header decided the wait.
    assert 1.45 <= times[1] - times[0] < 4


async def test_dropped_connection_retries_only_safe_requests(clerk: FakeClerk, server_factory):
    clerk.fail = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    # No privileged keys: the metadata write goes straight to Clerk, without first reading the user.
    async with Client(server_factory(privileged_metadata_keys=[])) as client:
        read = await client.call_tool("get_user", {"user_id": USER_ID})
        write = await client.call_tool("create_user", {"first_name": "A"})
        patch = await client.call_tool("update_user_metadata", {"user_id": USER_ID, "public_metadata": {"a": 1}})
    for result in (read, write, patch):
        assert "connection to http://clerk.test failed" in assert_clean_error(result)
        assert payload(result)["error"] == "unavailable"
    # A write that may have reached Clerk is never repeated.
    assert clerk.sent.count(("GET", f"/v1/users/{USER_ID}")) == 4
    assert clerk.sent.count(("POST", "/v1/users")) == 1
    assert clerk.sent.count(("PATCH", f"/v1/users/{USER_ID}/metadata")) == 1
