"""Real SocketCAN from a machine without CAN: the User-Mode Linux runner and the suite inside it.

``scripts/vcan/run.py`` runs a command where ``vcan0`` is up: on this host if it has one, else
in a UML guest (about 2 s to boot). These tests skip only when neither is possible; CI installs
UML through ``scripts/test.sh``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.crossprocess.rig import ROOT
from tests.crossprocess.socketcan import vcan_runner
from tests.crossprocess.test_attacks import AttackScenarios
from tests.crossprocess.test_suite import Scenarios

SUITE_TIMEOUT_S = 420.0  # both socketcan classes in the single-CPU guest


def run_or_skip(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    runner = vcan_runner()
    try:
        runner.where()
    except runner.VcanUnavailable as exc:
        pytest.skip(str(exc))
    started = time.monotonic()
    result: subprocess.CompletedProcess[str] = runner.run_in_vcan(command, timeout=timeout,
                                                                  cwd=ROOT)
    print(f"[{runner.where()}] {time.monotonic() - started:.1f} s, status {result.returncode}")
    return result


def test_no_vcan_and_no_uml_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = vcan_runner()
    monkeypatch.setattr(runner, "host_vcan_up", lambda name="vcan0": False)
    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    with pytest.raises(runner.VcanUnavailable, match="user-mode-linux kmod iproute2 can-utils"):
        runner.run_in_vcan("true", timeout=5, cwd=ROOT)


def test_environment_is_exported_with_quoting() -> None:
    env = {"PATH": "/opt/x bin:/usr/bin", "ICU_WS_EVENT_LOG": "it's.db", "SECRET_TOKEN": "no",
           "HOME": "/root", "PYTEST_CURRENT_TEST": "no"}
    script = vcan_runner().exported_environment(env)
    assert "SECRET_TOKEN" not in script and "PYTEST_CURRENT_TEST" not in script
    out = subprocess.run(["/bin/sh", "-c", script + '\nprintf "%s|%s" "$PATH" '
                          '"$ICU_WS_EVENT_LOG"'], capture_output=True, text=True, env={},
                         check=True).stdout
    assert out == "/opt/x bin:/usr/bin|it's.db"


def test_status_and_environment_reach_the_vcan_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICU_WS_PROBE", "a b'c")
    result = run_or_skip('test "$ICU_WS_PROBE" = "a b\'c" || exit 3\n'
                         f'test "$(pwd)" = {shlex.quote(str(ROOT))} || exit 4\n'
                         "test -e /sys/class/net/vcan0 || exit 5\n"
                         "echo guest-ok; exit 7", timeout=60)
    assert result.returncode == 7, result.stdout
    assert "guest-ok\n" in result.stdout


def test_candump_sees_cansend_garbage_on_vcan0() -> None:
    result = run_or_skip("ip -details link show vcan0 | grep -q vcan || exit 3\n"
                         "candump -L -n 1 -T 5000 vcan0 & dump=$!\n"
                         "sleep 0.5\n"
                         "cansend vcan0 123#DEADBEEF || exit 4\n"
                         "wait $dump", timeout=60)
    assert result.returncode == 0, result.stdout
    assert re.search(r"^\(\d+\.\d+\) vcan0 123#DEADBEEF$", result.stdout, re.M), result.stdout


def test_socketcan_suite_in_uml(tmp_path: Path) -> None:
    # One guest boot for both classes: the scenarios and the issue 10 attacks (B1-B8).
    # Its own --basetemp: the guest's pytest must not number or clean /tmp/pytest-of-* under
    # this session's feet (the guest has its own pids); its files stay here for a post-mortem.
    command = (f"{shlex.quote(sys.executable)} -m pytest tests/crossprocess/test_suite.py "
               "tests/crossprocess/test_attacks.py "
               "-k 'Socketcan' -p no:cacheprovider --color=no -q -rsx -s --durations=0 "
               f"--basetemp {shlex.quote(str(tmp_path / 'guest'))}")
    result = run_or_skip(command, timeout=SUITE_TIMEOUT_S)
    out = result.stdout
    print(out)  # the guest's durations, latencies and flood figures, in the report with -rP
    assert result.returncode == 0, f"socketcan suite failed (status {result.returncode}):\n{out}"
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    scenarios = len([name for name in dir(Scenarios) if name.startswith("test_")]) + \
        len([name for name in dir(AttackScenarios) if name.startswith("test_")])
    ran = sum(int(n) for n in re.findall(r"\b(\d+) (?:passed|xfailed|xpassed)\b", summary))
    assert ran == scenarios and "skipped" not in summary and \
        not re.search(r"\b\d+ failed\b", summary), \
        f"the socketcan scenarios did not all run:\n{out}"
