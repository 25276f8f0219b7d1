"""The examples run as a user would run them: the support bot as a script, the agent tests under pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # No CLERK_* variables: the examples must choose the sandbox themselves, whatever the developer's shell holds.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    return subprocess.run([sys.executable, *args], cwd=EXAMPLES.parent, env=env, capture_output=True, text=True, timeout=60)


def test_support_bot_works_its_tickets_with_the_human_in_the_loop() -> None:
    done = run(str(EXAMPLES / "support_bot.py"))
    assert done.returncode == 0, done.stderr
    assert "-> lucy@example.com: locked after too many failed sign-ins" in done.stdout
    assert 'human asked: Ban user? User: user_kx2WmTGuBqHejxt5sblIrbgmEkk <john@example.com> — name "John Smith" -> approve' in done.stdout
    assert "-> john@example.com: banned=True, two-factor=False" in done.stdout
    assert "-> grace@example.com: escalated to a person: delete_user: The human declined" in done.stdout
    assert "sandbox mode" in done.stderr


def test_agent_tests_pass_with_the_plugin() -> None:
    done = run("-m", "pytest", str(EXAMPLES / "test_agent_with_plugin.py"), "-p", "clerk_mcp.testing", "-p", "no:cacheprovider", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
