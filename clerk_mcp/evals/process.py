"""Running an agent command to a deadline, and then ending it with every process it started.

An agent may start helpers that leave its process group (`setsid`), ignore SIGTERM and keep its stdout open. So
the harness notes the agent's descendants while it runs (each by pid and start time, read from /proc, so a
recycled pid is never mistaken for one of them), and at the end (the time limit, or the agent's exit) sends
SIGTERM to all of them, then SIGKILL after `GRACE` seconds; and it stops reading the agent's pipes at that point
instead of waiting for an end-of-file a surviving helper could withhold. Where /proc is missing (not Linux), only
the agent's own process group is ended.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

import anyio

GRACE = 0.5  # seconds between SIGTERM and SIGKILL, and the most spent reading pipes after the kill
POLL = 0.1  # seconds between looks for new descendants while the agent runs
STDERR_TAIL = 2_000

Process = tuple[int, str]  # pid, start time (field 22 of /proc/PID/stat, in clock ticks since boot)


def _table() -> dict[Process, int]:
    """Every process now: (pid, start time) -> parent pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # it ended meanwhile
            continue
        found[(int(entry.name), fields[19])] = int(fields[1])
    return found


class Descendants:
    """The processes started, directly or not, by the process `root` (a pid), as seen so far."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: set[Process] = set()

    def look(self) -> dict[Process, int]:
        """Add the descendants running now, found through their parents (seen ones count as ancestors too)."""
        table = _table()
        ancestors = {self.root} | {pid for pid, started in self.seen if (pid, started) in table}
        grew = True
        while grew:
            new = {p for p, parent in table.items() if parent in ancestors and p not in self.seen}
            self.seen |= new
            ancestors |= {pid for pid, _ in new}
            grew = bool(new)
        return table

    async def watch(self) -> None:
        while True:
            await anyio.to_thread.run_sync(self.look)
            await anyio.sleep(POLL)

    async def end(self) -> None:
        """SIGTERM to the agent's group and every descendant still alive, SIGKILL after `GRACE` to what is left."""
        for number, sig in enumerate((signal.SIGTERM, signal.SIGKILL)):
            if number:
                await anyio.sleep(GRACE)
            _signal_group(self.root, sig)
            try:
                alive = set(self.look()) & self.seen
            except OSError:  # no /proc: the group is all there is to end
                return
            if not alive:
                return
            for pid, _ in alive:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass


def _signal_group(leader: int, sig: int) -> None:
    """Signal the process group the agent leads (it was started in a session of its own)."""
    try:
        os.killpg(leader, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def run_process(argv: tuple[str, ...], request: str, environment: dict[str, str], limit: float, cap: int) -> tuple[str, str | None, str]:
    """Run `argv` with `request` on stdin; (its stdout (the first `cap` bytes), what went wrong or None, stderr's
    tail). It and everything it started are ended at `limit` seconds, or once it has exited."""
    try:
        process = await anyio.open_process(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
            start_new_session=True,
        )
    except OSError as exc:
        return "", f"cannot start the agent command {shlex.join(argv)}: {exc.strerror or exc}", ""
    out, err = bytearray(), bytearray()
    drained = [anyio.Event(), anyio.Event()]
    descendants = Descendants(process.pid)
    error = None
    async with process, anyio.create_task_group() as tasks:
        tasks.start_soon(_drain, process.stdout, out, cap, drained[0])
        tasks.start_soon(_drain, process.stderr, err, 64 * STDERR_TAIL, drained[1])
        if Path("/proc/self/stat").exists():
            tasks.start_soon(descendants.watch)
        with anyio.move_on_after(limit) as waited:  # the request too: an agent that never reads it must not hang us
            try:
                await process.stdin.send(request.encode())
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the agent did not read its request: its answer will say so
            await process.stdin.aclose()
            await process.wait()
        if waited.cancelled_caught:
            error = f"stopped after the time limit of {limit:g} s"
        await descendants.end()
        with anyio.move_on_after(GRACE):  # what is already in the pipes; a survivor holding them open is ignored
            for event in drained:
                await event.wait()
        tasks.cancel_scope.cancel()
    if error is None and process.returncode:
        error = f"the agent exited with status {process.returncode}"
    return out.decode(errors="replace").strip(), error, err.decode(errors="replace")[-STDERR_TAIL:]


async def _drain(stream: Any, into: bytearray, cap: int, done: anyio.Event) -> None:
    async for chunk in stream:
        if len(into) < cap:
            into += chunk[: cap - len(into)]
    done.set()
