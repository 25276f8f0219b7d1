"""The token budgets of design §7, asserted: token counts are deterministic, unlike times.

The figures come from `benchmarks/tokens.py` itself, so the test and the README's table cannot
disagree. Timed budgets (cold start, call overhead) are only smoke-run here, never asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import tokens  # noqa: E402  (benchmarks/tokens.py)


def test_tool_list_is_within_its_token_budgets():
    for figure in tokens.tool_list_figures():
        assert figure.within, f"{figure.name}: {figure.ours:,.0f} tokens, budget {figure.budget}"


def test_default_list_result_is_at_most_40_percent_of_raw_clerk_json():
    figure = tokens.list_result_figure()
    assert figure.within, f"{figure.ratio:.1%} of raw Clerk JSON, budget {figure.budget}"


@pytest.mark.slow
def test_benchmarks_smoke_run():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run_all.py"), "--smoke"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
