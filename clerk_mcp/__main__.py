"""`python -m clerk_mcp`: the same command as `clerk-mcp` (for environments where the console script is not on PATH)."""

import sys

from .cli import main

sys.exit(main())
