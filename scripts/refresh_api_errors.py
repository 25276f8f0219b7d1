"""Refresh clerk_mcp/sandbox/api_errors.json from Clerk's published error catalogue.

The sandbox raises only errors listed in that file; it holds, verbatim, the entries of
`data/api_errors.json` in the public clerk/clerk-docs repository that the sandbox's endpoints can
raise, plus the commit they were taken from.

    python scripts/refresh_api_errors.py --commit <clerk-docs commit>            # download that commit's catalogue
    python scripts/refresh_api_errors.py --commit <sha> --catalogue api_errors.json  # or read a local copy of it
    python scripts/refresh_api_errors.py --commit <sha> --add ImageNotFound      # take one more entry

Entries are picked by their `name` (unique in the catalogue; codes are not). A name missing from the
new catalogue stops the refresh with its name, so a renamed entry is noticed, never dropped silently.
Then run `python -m pytest tests/sandbox/test_catalogue.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

TARGET = Path(__file__).resolve().parents[1] / "clerk_mcp" / "sandbox" / "api_errors.json"
REPOSITORY, PATH = "clerk/clerk-docs", "data/api_errors.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", required=True, help="the clerk/clerk-docs commit to take the catalogue from")
    parser.add_argument("--catalogue", type=Path, help="a local copy of data/api_errors.json at that commit")
    parser.add_argument("--add", action="append", default=[], metavar="NAME", help="also take this catalogue entry")
    args = parser.parse_args(argv)
    if args.catalogue:
        catalogue = json.loads(args.catalogue.read_text(encoding="utf-8"))
    else:
        url = f"https://raw.githubusercontent.com/{REPOSITORY}/{args.commit}/{PATH}"
        catalogue = httpx.get(url, timeout=30, follow_redirects=True).raise_for_status().json()
    by_name = {entry["name"]: entry for entry in catalogue}
    current = json.loads(TARGET.read_text(encoding="utf-8"))
    wanted = [entry["name"] for entry in current["errors"]] + args.add
    missing = [name for name in wanted if name not in by_name]
    if missing:
        print(f"Not in the catalogue at {args.commit}: {', '.join(missing)}", file=sys.stderr)
        return 1
    current["source"]["commit"] = args.commit
    current["errors"] = [by_name[name] for name in dict.fromkeys(wanted)]
    TARGET.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(current['errors'])} entries from {REPOSITORY}@{args.commit} written to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
