"""Run every benchmark, each in its own process; `--smoke` is what CI runs (tiny sizes, no budget failures).

Arguments are passed to every script, so give only the ones they share (`--smoke`).
Exit status: 0 when every script succeeded and held its budgets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Cheapest first; sandbox_scale.py belongs to the sandbox and runs when present.
SCRIPTS = ("tokens.py", "call_overhead.py", "cold_start.py", "sandbox_scale.py", "replicas.py")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    failed = [name for name in SCRIPTS if (HERE / name).exists() and subprocess.call([sys.executable, str(HERE / name), *argv])]
    if failed:
        print(f"\nfailed or over budget: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
