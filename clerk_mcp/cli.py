"""`clerk-mcp` — run the server, inspect its tools and policy, call one tool, serve the sandbox, or write the manifests.

Logs and notices go to stderr; in stdio mode stdout carries nothing but MCP protocol.
Exit codes: 0 success, 1 a tool returned an error (or `manifests --check` found drift), 2 bad usage or a setting
that stops start-up (one line per problem on stderr), 130 stopped by Ctrl-C (SIGINT), 141 stdout closed early
(as for a command killed by SIGPIPE).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import __version__

EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


def _policy_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that builds a server; each has a CLERK_MCP_* environment twin."""
    g = parser.add_argument_group("policy (env: CLERK_MCP_<NAME>)")
    g.add_argument("--read-only", action="store_true", default=None, help="list and allow only the read tools")
    g.add_argument("--tools", help="comma-separated allow-list of tool names")
    g.add_argument("--deny-tools", help="comma-separated tool names never listed or run")
    g.add_argument("--toolsets", help="comma-separated toolsets to offer (default users; all = every toolset)")
    g.add_argument("--dynamic-toolsets", action="store_true", default=None, help="let the model list and enable toolsets at run time")
    g.add_argument("--confirm", choices=["elicit", "deny", "approve"], help="how calls needing a human's yes are handled")
    g.add_argument("--allow-destructive-live", action="store_true", default=None, help="with an sk_live_ key, offer destructive tools")
    g.add_argument("--allow-approve-live", action="store_true", default=None, help="with an sk_live_ key, allow --confirm approve")
    g.add_argument("--expose-private-metadata", action="store_true", default=None, help="include private_metadata in results")
    g.add_argument("--privileged-metadata-keys", help="comma-separated metadata keys (globs) whose writes ask a human (default: role,roles,permissions,admin,is_admin)")
    g.add_argument("--confirm-passwords", action="store_true", default=None, help="create_user with a password or digest asks a human")
    g.add_argument("--state-dir", help="directory of the local store shared by every clerk-mcp process on this machine")
    g.add_argument("--audit-log", help="append one JSON line per tool call to this file")
    g.add_argument("--policy-file", help="TOML file with any of these settings")
    g.add_argument("--record", help="append every tool call and result to this JSONL transcript")
    g.add_argument("--sandbox-db", help="keep the embedded sandbox's state in this SQLite file (default: in memory)")


def _http_flags(parser: argparse.ArgumentParser) -> None:
    """`serve --http` flags; each has a CLERK_MCP_* environment twin (the token only as env or file, never on argv)."""
    g = parser.add_argument_group("Streamable HTTP (env: CLERK_MCP_<NAME>, token: CLERK_MCP_AUTH_TOKEN)")
    g.add_argument("--http", action="store_true", default=None, help="serve Streamable HTTP at /mcp instead of stdio")
    g.add_argument("--host", help="address to bind (default 127.0.0.1; anything else requires a token)")
    g.add_argument("--port", type=int, help="port to bind (default 8000; 0 picks a free one)")
    g.add_argument("--stateless", action="store_true", default=None, help="no per-session state (for replicas)")
    g.add_argument("--json-response", action="store_true", default=None, help="JSON bodies instead of SSE streams")
    g.add_argument("--allowed-hosts", help="comma-separated Host values accepted besides loopback ('name:*' any port, '*' any)")
    g.add_argument("--allowed-origins", help="comma-separated browser Origins accepted besides loopback")
    g.add_argument("--auth-token-file", help="file whose first line is the bearer token clients must send")
    g = parser.add_argument_group("OAuth: who is calling (env: CLERK_MCP_<NAME>)")
    g.add_argument("--auth", choices=["none", "clerk", "oidc"], help="verify each caller's OAuth access token, issued by Clerk or an OIDC provider")
    g.add_argument("--auth-issuer", help="the issuer URL (Clerk: the Frontend API URL, or the emulator's URL)")
    g.add_argument("--resource-url", help="this server's public /mcp URL, as tokens name it (default http://HOST:PORT/mcp)")
    g.add_argument("--auth-audience", help="the audience tokens must name (default: the resource URL)")
    g.add_argument("--auth-scopes", help="comma-separated scopes every token must carry (else 403)")
    g = parser.add_argument_group("replicas (env: CLERK_MCP_<NAME>)")
    g.add_argument("--redis-url", help="Redis shared by replicas: state keys, verify budgets, approvals, rate limit")
    g.add_argument("--rate-limit", type=int, help="Clerk requests per window, all replicas together (default 1000 for sk_live_, else 100)")
    g.add_argument("--rate-window", type=float, help="rate-limit window in seconds (default 10)")


def _settings(ns: argparse.Namespace, **extra: Any):
    from .settings import load_settings

    keys = ("read_only", "tools", "deny_tools", "toolsets", "dynamic_toolsets", "confirm", "allow_destructive_live", "allow_approve_live", "expose_private_metadata", "audit_log", "policy_file", "sandbox_db", "record")
    keys += ("privileged_metadata_keys", "confirm_passwords", "state_dir")
    keys += ("http", "host", "port", "stateless", "json_response", "allowed_hosts", "allowed_origins", "auth_token_file")
    keys += ("redis_url", "rate_limit", "rate_window")
    keys += ("auth", "auth_issuer", "resource_url", "auth_audience", "auth_scopes")
    return load_settings(**{**{k: getattr(ns, k, None) for k in keys}, **extra})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clerk-mcp", description="MCP server for the users of a Clerk instance.")
    parser.add_argument("--version", action="version", version=f"clerk-mcp {__version__}")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the MCP server on stdio (the default command) or Streamable HTTP")
    _policy_flags(serve)
    _http_flags(serve)

    tools = sub.add_parser("tools", help="print the tools this server offers")
    tools.add_argument("--json", action="store_true", help="print exactly the tools array of tools/list")
    _policy_flags(tools)

    call = sub.add_parser("call", help="run one tool through the same server and policy; print its result as JSON")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    call.add_argument("--yes", action="store_true", help="pre-approve calls that need confirmation")
    _policy_flags(call)

    policy = sub.add_parser("policy", help="print the effective policy per tool")
    _policy_flags(policy)

    replay = sub.add_parser("replay", help="replay a transcript against a fresh sandbox; exit 1 if a result differs")
    replay.add_argument("path", type=Path)

    emulator = sub.add_parser("emulator", help="serve the Clerk-compatible sandbox over HTTP")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8787, help="port to bind (default 8787; 0 picks a free one)")
    emulator.add_argument("--secret-key", help="bearer key clients must send (default: sk_test_sandbox)")
    emulator.add_argument("--db", help="SQLite file to keep state in (default: in memory)")
    emulator.add_argument("--empty", action="store_true", help="start with no demo data")
    emulator.add_argument(
        "--lockout-attempts", metavar="N|off",
        help="failed verifications before a user is locked (default: Clerk's for new instances; off: never)",
    )
    emulator.add_argument(
        "--lockout-duration", metavar="SECONDS|indefinite",
        help="how long a lockout lasts (default: Clerk's for new instances; indefinite: until unlocked)",
    )

    rotate = sub.add_parser("rotate-state-key", help="put a new confirmation-sealing key first in Redis's ring; restart replicas after")
    rotate.add_argument("--redis-url", help="default: CLERK_MCP_REDIS_URL")

    evaluate = sub.add_parser("eval", help="score an agent command on the support scenarios (README: Agent evaluations)")
    evaluate.add_argument("agent", nargs=argparse.REMAINDER, help="the agent command, after --")
    evaluate.add_argument("-k", "--select", action="append", default=[], metavar="NAME|TAG",
                          help="run the scenarios with this name or tag (globs; repeat for more; default: all)")
    evaluate.add_argument("--timeout", type=float, help="seconds each scenario's agent may run (default: the scenario's, 60)")
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    evaluate.add_argument("--junit", type=Path, metavar="FILE", help="write the report as JUnit XML")
    evaluate.add_argument("--scenarios", type=Path, metavar="DIR", help="scenario files to run (default: the bundled suite)")
    evaluate.add_argument("--list", action="store_true", help="list the selected scenarios and exit")

    manifests = sub.add_parser("manifests", help="write the generated manifests/ (tool files, registry entry, client configs)")
    manifests.add_argument("--dir", type=Path, default=Path("manifests"))
    manifests.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale, missing or extra file")
    return parser


def server_flags() -> set[str]:
    """The `--flags` of `clerk-mcp serve`: each is a setting (the README's settings table pairs them)."""
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = commands.choices["serve"]
    return {flag for action in serve._actions for flag in action.option_strings if flag.startswith("--")} - {"--help"}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args_list = sys.argv[1:] if argv is None else argv
    if not args_list or args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version"):
        args_list = ["serve", *args_list]
    ns = parser.parse_args(args_list)
    from .settings import SettingsError

    try:
        return _dispatch(ns)
    except SettingsError as exc:  # a setting from a flag, the environment or the policy file
        for problem in exc.problems:
            print(f"clerk-mcp: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"clerk-mcp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # whatever read stdout has gone (`clerk-mcp tools | head -1`): stop quietly, like cat
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor fail again flushing at exit
        return EXIT_BROKEN_PIPE


def _lockout(attempts: str | None, duration: str | None) -> Any:
    """The emulator's lockout policy from its flags; Clerk's defaults for what is not given (sandbox/lockout.py)."""
    from .sandbox.lockout import MIN_MAX_ATTEMPTS, Lockout

    given: dict[str, int | None] = {}
    for name, flag, raw, word in (
        ("max_attempts", "--lockout-attempts", attempts, "off"), ("duration_s", "--lockout-duration", duration, "indefinite"),
    ):
        if raw is not None:
            if raw != word and not raw.isdigit():
                raise ValueError(f"{flag} takes a whole number or {word}")
            given[name] = None if raw == word else int(raw)
    attempts_given = given.get("max_attempts", MIN_MAX_ATTEMPTS)
    if attempts_given is not None and attempts_given < MIN_MAX_ATTEMPTS:
        raise ValueError(f"--lockout-attempts must be at least {MIN_MAX_ATTEMPTS} (Clerk's minimum), or off")
    if given.get("duration_s", 1) == 0:
        raise ValueError("--lockout-duration must be at least 1 second, or indefinite")
    return Lockout(**given)


def _dispatch(ns: argparse.Namespace) -> int:
    if ns.command == "emulator":
        from .http import is_loopback, listening_socket, origin
        from .sandbox import SANDBOX_SECRET_KEY, serve

        if not is_loopback(ns.host) and not ns.secret_key:
            raise ValueError(
                f"refusing to serve the sandbox on {ns.host} with its well-known key {SANDBOX_SECRET_KEY}: anyone who can "
                "reach it could change its data; pass --secret-key, or bind a loopback address"
            )
        lockout = _lockout(ns.lockout_attempts, ns.lockout_duration)  # checked before the port is bound
        sock = listening_socket(ns.host, ns.port)  # bound before "listening" is printed; a busy port is a usage error
        serve(
            sock, origin(sock), secret_key=ns.secret_key or SANDBOX_SECRET_KEY, db_path=ns.db, seed=not ns.empty,
            lockout=lockout,
        )
        return EXIT_OK
    if ns.command == "replay":
        from .transcripts import run_replay

        return run_replay(ns.path)
    if ns.command == "eval":
        from .evals.command import run

        return run(ns.agent, patterns=ns.select, directory=ns.scenarios, timeout=ns.timeout, json_path=ns.json,
                   junit_path=ns.junit, list_only=ns.list)
    if ns.command == "rotate-state-key":
        return _rotate_state_key(ns.redis_url)
    if ns.command == "manifests":
        return _manifests(ns.dir, check=ns.check)
    if ns.command == "policy":
        return _print_policy(_settings(ns))
    if ns.command == "tools":
        return _print_tools(_settings(ns), as_json=ns.json)
    if ns.command == "call":
        try:
            arguments = json.loads(ns.arguments)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the arguments are not valid JSON ({exc}); give one JSON object, e.g. '{{\"limit\": 3}}'") from None
        if not isinstance(arguments, dict):
            raise ValueError("arguments must be a JSON object")
        return _call(_settings(ns, **({"confirm": "approve"} if ns.yes else {})), ns.tool, arguments)
    settings = _settings(ns)
    if settings.http:
        from .http import serve_http

        serve_http(settings)
        return EXIT_OK
    if settings.auth.value != "none":
        raise ValueError(f"--auth {settings.auth.value} verifies callers over HTTP: add --http (on stdio the caller is whoever started the server)")
    import anyio

    from .server import build_server
    from .stdio import serve_stdio

    anyio.run(serve_stdio, build_server(settings))
    return EXIT_OK


def _rotate_state_key(url: str | None) -> int:
    from .settings import load_settings
    from .state import rotate_state_keys

    url = url or load_settings().redis_url
    if not url:
        raise ValueError("rotate-state-key needs --redis-url or CLERK_MCP_REDIS_URL")
    size = rotate_state_keys(url)
    print(
        f"clerk-mcp: a new key now seals confirmation state; the ring holds {size} (the previous key still opens). "
        "Restart the replicas one by one; rotate again no sooner than 10 minutes after.",
        file=sys.stderr,
    )
    return EXIT_OK


def _manifests(directory: Path, *, check: bool) -> int:
    from . import manifests

    if not check:
        for rel in manifests.write(directory):
            print(f"wrote {directory / rel}", file=sys.stderr)
        return EXIT_OK
    problems = manifests.check(directory)
    for problem in problems:
        print(f"{directory}: {problem}", file=sys.stderr)
    if problems:
        print("run `clerk-mcp manifests` to regenerate", file=sys.stderr)
    return EXIT_TOOL_ERROR if problems else EXIT_OK


def _print_policy(settings: Any) -> int:
    from .policy import Policy
    from .state import describe_state

    policy = Policy(settings)
    backend = "sandbox (built-in emulator)" if settings.sandbox else f"{settings.backend_kind} {settings.api_url} (key {settings.key_fingerprint})"
    print(f"backend: {backend}\nconfirmation mode: {settings.confirm.value}")
    print(f"privileged metadata keys: {', '.join(policy.privileged_keys) or 'none'}")
    print(f"passwords chosen in create_user: {'confirm' if settings.confirm_passwords else 'allowed'}")
    print(f"approvals, verify budgets and rate limit kept in: {describe_state(settings)}")
    _print_rules(policy)
    for name, role in settings.roles.items():  # OAuth callers (README "OAuth: who is calling"); the first match wins
        from .access import role_settings

        role_policy = Policy(role_settings(settings, role))
        print(f"\nrole {name}, for {role.match.describe()}: confirmation mode {role_policy.settings.confirm.value}")
        _print_rules(role_policy)
    return EXIT_OK


def _print_rules(policy: Any) -> None:
    from .operations import OPERATIONS

    for op in OPERATIONS:
        row = policy.describe(op)
        print(f"{row['tool']:<36} {row['effect']:<12} {row['rule']}" + (f" ({row['reason']})" if "reason" in row else ""))


def _print_tools(settings: Any, *, as_json: bool) -> int:
    from .server import build_server

    server = build_server(settings)
    tools = list(server.tool_definitions.values())
    if as_json:
        print(json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools], indent=2))
        return EXIT_OK
    for tool in tools:
        print(f"{tool.name:<36} {tool.description}")
    _print_toolset_costs(server)
    return EXIT_OK


def _print_toolset_costs(server: Any) -> None:
    """After the tools: each toolset on, with its listed tools' model-visible tokens (clerk_mcp/toolsets.py)."""
    from .operations import toolset_names
    from .toolsets import tool_tokens

    print()
    for toolset in (name for name in toolset_names() if name in server.policy.toolsets):
        listed = [op for op in server.policy.visible if op.toolset == toolset]
        cost = sum(tool_tokens(op) for op in listed)
        print(f"# toolset {toolset}: {len(listed)} tools, {cost:,} model-visible tokens (cl100k_base: name, description, input schema)")


def _call(settings: Any, tool: str, arguments: dict[str, Any]) -> int:
    import anyio

    from .server import build_server

    from .operations import BY_NAME, STATUS_TOOL

    if tool not in BY_NAME and tool != STATUS_TOOL:
        raise ValueError(f"unknown tool {tool!r}; `clerk-mcp tools` lists them")
    server = build_server(settings)

    callback = _ask_on_terminal if sys.stdin.isatty() and sys.stderr.isatty() else None

    async def run() -> Any:
        from mcp.client import Client

        async with Client(server, elicitation_callback=callback) as client:
            return await client.call_tool(tool, arguments)

    result = anyio.run(run)
    from .views import payload

    details = payload(result)
    print(json.dumps(details, indent=2, ensure_ascii=False))
    if callback is None and details.get("decision") == "refused" and "confirmation" in details.get("message", ""):
        print("clerk-mcp: to be asked, run `clerk-mcp call` in a terminal; --yes pre-approves this call", file=sys.stderr)
    return EXIT_TOOL_ERROR if result.is_error else EXIT_OK


async def _ask_on_terminal(context: Any, params: Any) -> Any:
    """The operator answers a confirmation on the terminal: y approves, i takes the offered alternative
    (the form's `instead` box, e.g. ban instead of delete), anything else declines."""
    from mcp_types import ElicitResult

    alternative = "instead" in (params.requested_schema or {}).get("properties", {})
    print(f"\n{params.message}", file=sys.stderr)
    print("Approve? [y/N" + ("/i = instead" if alternative else "") + "] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return ElicitResult(action="accept", content={"approve": True})
    if alternative and answer in ("i", "instead"):
        return ElicitResult(action="accept", content={"approve": True, "instead": True})
    return ElicitResult(action="decline")


if __name__ == "__main__":
    sys.exit(main())
