#!/bin/sh
# Add clerk-mcp to Claude Code. Sandbox until a key is given: add -e CLERK_SECRET_KEY=sk_... before the name.
claude mcp add --transport stdio clerk -- uvx clerk-mcp
