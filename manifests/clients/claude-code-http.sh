#!/bin/sh
# Add clerk-mcp to Claude Code. Start the server first: clerk-mcp serve --http
claude mcp add --transport http clerk http://127.0.0.1:8000/mcp
