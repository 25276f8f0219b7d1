"""Call overhead: `tools/call get_user` through an in-process MCP client, over a direct httpx call to the same sandbox.

Both paths reach one in-process sandbox app through `httpx.ASGITransport`, so what remains is
clerk-mcp's own cost per call (MCP framing, validation, policy, adapter, result shaping) plus the
in-memory MCP transport. Calls alternate, and the overhead is the median of the paired differences.
"""

from __future__ import annotations

import sys
import time

from _common import finish, median, overhead_figure, parser, run_async, sandbox_pair

BUDGET_MS = 1.0


def measure(calls: int) -> tuple[list[float], list[float]]:
    """Seconds per call: (through MCP, direct), `calls` of each, after a warm-up of both."""
    from mcp.client import Client

    async def run() -> tuple[list[float], list[float]]:
        direct, server = sandbox_pair()
        async with direct, Client(server) as client:
            user_id = (await direct.get("/users", params={"limit": 1})).raise_for_status().json()[0]["id"]

            async def through_mcp() -> None:
                result = await client.call_tool("get_user", {"user_id": user_id})
                if result.is_error:
                    raise RuntimeError(result.content)

            async def straight() -> None:
                (await direct.get(f"/users/{user_id}")).raise_for_status().json()

            samples: tuple[list[float], list[float]] = ([], [])
            for i in range(calls + 5):  # the first five pairs warm caches and are not counted
                for call, into in ((through_mcp, samples[0]), (straight, samples[1])):
                    started = time.perf_counter()
                    await call()
                    if i >= 5:
                        into.append(time.perf_counter() - started)
            return samples

    return run_async(run)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=500, help="paired calls (default 500)")
    ns = p.parse_args(argv)
    calls = 3 if ns.smoke else ns.calls
    ours, direct = measure(calls)
    overhead = median([a - b for a, b in zip(ours, direct)]) * 1000
    figures = [overhead_figure(
        f"tools/call get_user, median of {calls} pairs", median(ours) * 1000, median(direct) * 1000, "ms", overhead, BUDGET_MS,
    )]
    return finish("Call overhead (baseline: direct httpx call to the same sandbox)", figures, smoke=ns.smoke)


if __name__ == "__main__":
    sys.exit(main())
