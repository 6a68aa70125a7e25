"""The real commands as processes: headless demo, run against pumps in another process, kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.events import EventKind
from tests.buslab import remote_hub
from workstation.eventlog import EventLog

ROOT = Path(__file__).resolve().parents[2]


class Proc:
    """A child process whose stdout is collected line by line, without blocking."""

    def __init__(self, *args: str, stdin: int | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "icu_ws.cli", *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=stdin, text=True, start_new_session=True)
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        self.out = ""

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)

    def read(self) -> str:
        self.out = "".join(self._lines)
        return self.out

    def wait_for(self, text: str, timeout: float = 20.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.read().count(text) < count:
            if self.proc.poll() is not None:
                self.read()
                raise AssertionError(f"process exited {self.proc.returncode} before "
                                     f"{text!r}:\n{self.out[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.out[-3000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self.kill()
        self._reader.join(5)
        self.read()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.kill()


def test_headless_demo_prints_status_and_alarms_and_stops_on_sigterm(
        tmp_path: Path, procs: list[Proc]) -> None:
    demo = Proc("demo", "--headless", "--channels", "2", "--speed", "60", "--status-every", "1",
                "--event-log", str(tmp_path / "events.db"))
    procs.append(demo)
    demo.wait_for("INFUSING", count=2)
    assert "Plasma-Lyte 148" in demo.out and "Noradrenaline" in demo.out
    assert "mcg/kg/min" in demo.out and "mL/h" in demo.out
    assert demo.stop(signal.SIGTERM) == 0
    with EventLog(tmp_path / "events.db", read_only=True) as log:
        messages = [r.message for r in log.query(kinds=[EventKind.SYSTEM])]
    assert any("stopped; pumps keep running" in m for m in messages)


def test_event_log_survives_kill_9_of_the_workstation(tmp_path: Path,
                                                      procs: list[Proc]) -> None:
    db = tmp_path / "events.db"
    demo = Proc("demo", "--headless", "--channels", "4", "--speed", "60", "--status-every", "1",
                "--event-log", str(db))
    procs.append(demo)
    demo.wait_for("INFUSING", count=4)
    demo.stop(signal.SIGKILL)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with EventLog(db, read_only=True) as log:
        started = [r for r in log.query(kinds=[EventKind.PROGRAM]) if "started" in r.message]
    assert {r.channel for r in started} == {"A", "B", "C", "D"}


def test_run_supervises_pumps_in_another_process(tmp_path: Path, procs: list[Proc]) -> None:
    with remote_hub() as channel:
        pumps = Proc("pump", "--node", "1:volumetric", "--node", "2:syringe",
                     "--interface", "remote", "--channel", channel, "--control", "stdin",
                     stdin=subprocess.PIPE)
        procs.append(pumps)
        pumps.wait_for("pumps: nodes")
        config = tmp_path / "ws.toml"
        config.write_text(
            f'event_log = "{tmp_path / "events.db"}"\n'
            f'[[buses]]\nname = "can0"\ninterface = "remote"\nchannel = "{channel}"\n'
            '[[channels]]\nletter = "A"\nslot = 1\nkind = "volumetric"\nlabel = "Central"\n'
            '[[channels]]\nletter = "B"\nslot = 2\nkind = "syringe"\nlabel = "PICC"\n')
        ws = Proc("run", "--config", str(config), "--headless", "--status-every", "1")
        procs.append(ws)
        ws.wait_for(" A Central          IDLE")
        ws.wait_for(" B PICC             IDLE")
        assert pumps.proc.stdin is not None
        pumps.proc.stdin.write("1 door 1\n")
        pumps.proc.stdin.flush()
        ws.wait_for("A: Door open")  # a MEDIUM alarm: the pump is not infusing
        assert ws.stop(signal.SIGINT) == 0
        assert pumps.stop(signal.SIGTERM) == 0
