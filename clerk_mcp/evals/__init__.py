"""Agent evaluations: support tasks with checked outcomes, run against any agent (`clerk-mcp eval`).

- `load_suite()` / `select()` — the bundled scenarios (scenarios/*.toml, format in scenario.py), by name or tag;
- `run_scenario(scenario, agent)` / `run_suite(...)` — a fresh sandbox and server per scenario, the agent in it, an
  `Outcome` (checks' verdicts, confirmations, tool calls, tokens, time); the contract with an agent given as a
  command is in runner.py and the README;
- `report` — the outcomes as a terminal table, JSON and JUnit XML.
"""

from .runner import CommandAgent, Outcome, run_scenario, run_suite
from .scenario import Scenario, ScenarioError, load_suite, select

__all__ = ["CommandAgent", "Outcome", "Scenario", "ScenarioError", "load_suite", "run_scenario", "run_suite", "select"]
