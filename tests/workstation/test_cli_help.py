"""``icu-ws`` as a user runs it: help for every subcommand, usage errors, exit statuses."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from icu_ws import log as log_cli
from icu_ws import monitor as monitor_cli
from icu_ws import pump as pump_cli
from icu_ws import run as run_cli
from icu_ws import user as user_cli
from workstation.config import REPO_ROOT

SUBCOMMANDS = {
    "demo": run_cli.DEMO_HELP,
    "run": run_cli.RUN_HELP,
    "check-config": run_cli.CHECK_HELP,
    "log": log_cli.HELP,
    "user": user_cli.HELP,
    "pump": pump_cli.HELP,
    "monitor": monitor_cli.HELP,
}


def icu_ws(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m icu_ws.cli ARGS`` from the repository root, as a separate process."""
    env = {**os.environ, "COLUMNS": "200"}  # argparse wraps help text to the terminal width
    return subprocess.run([sys.executable, "-m", "icu_ws.cli", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_top_level_help_lists_every_subcommand() -> None:
    result = icu_ws("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: icu-ws ")
    assert "ICU infusion workstation" in result.stdout
    for name in SUBCOMMANDS:
        assert re.search(rf"^  {re.escape(name)} +\S", result.stdout, re.MULTILINE), name
        assert SUBCOMMANDS[name] in result.stdout  # argparse's own list of subcommands
    assert "--verbose" in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(command: str) -> None:
    result = icu_ws(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: icu-ws {command} ")
    description = result.stdout.split("\n\n")[1]  # after the usage block
    assert description.startswith(SUBCOMMANDS[command])
    assert "--help" in result.stdout


def test_no_subcommand_is_a_usage_error() -> None:
    result = icu_ws()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: icu-ws ")
    assert "required: COMMAND" in result.stderr


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = icu_ws("fly")
    assert result.returncode == 2
    assert "invalid choice: 'fly'" in result.stderr


def test_pump_node_outside_slot_range() -> None:
    result = icu_ws("pump", "--node", "40")
    assert result.returncode != 0
    assert "'40'" in result.stderr
    assert "1..31" in result.stderr
    assert "pumps: nodes" not in result.stdout  # no module was started


def test_pump_needs_a_node() -> None:
    result = icu_ws("pump")
    assert result.returncode == 2
    assert "--node" in result.stderr


def test_check_config_in_a_subprocess() -> None:
    result = icu_ws("check-config", "configs/workstation.toml", "configs/two-stations.toml")
    assert result.returncode == 0, result.stderr
    assert [line.split(": ")[1] for line in result.stdout.splitlines()] == [
        "configs/workstation.toml", "configs/two-stations.toml"]
