"""Child processes of the cross-process suite and the rig that runs them.

- ``Proc``: a child in its own session, its output collected line by line.
- ``PumpProc``: ``icu-ws pump`` with a group of ``--node``s, faults on stdin.
- ``WsProc``: the workstation, the ``ws_driver`` client (``icu-ws run --headless`` plus a
  command channel answering in JSON lines), or the shipped ``icu-ws run --headless`` itself.
- ``ProcessRig``: workstation and pumps as separate processes; ``remote.RemoteRig`` and
  ``socketcan.SocketcanRig`` add how a foreign node sends and captures frames on their bus.

Every child runs in its own session; ``close`` (always called, in ``finally``) kills each
process group that is still there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pumps.module import Fault
from tests.crossprocess.rig import ROOT, SPEED, STATUS_EVERY_S, Chan, Rig

BACKSTOP_S = 300.0  # pumps stop by themselves after this, should a test runner die


class Proc:
    """A child process in its own session; stdout and stderr collected line by line."""

    def __init__(self, argv: Sequence[str], *, name: str, stdin: bool = True) -> None:
        self.name = name
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, name=f"{name}-out", daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.on_line(line.rstrip("\n"))

    def on_line(self, line: str) -> None:
        self.lines.append(line)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self, since: int = 0) -> str:
        return "\n".join(self.lines[since:])

    def tail(self, n: int = 40) -> str:
        return f"--- last lines of {self.name} ---\n" + "\n".join(self.lines[-n:])

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None, f"{self.name}: no stdin"
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    async def wait_for(self, text: str, *, since: int = 0, timeout: float = 15.0,
                       count: int = 1) -> int:
        """Wait until ``text`` occurs ``count`` times in lines[since:]; the index after it."""
        deadline = time.monotonic() + timeout
        while True:
            seen = 0
            for i in range(since, len(self.lines)):
                if text in self.lines[i]:
                    seen += 1
                    if seen >= count:
                        return i + 1
            if not self.alive:
                await asyncio.sleep(0.1)  # let the reader catch the last lines
                raise AssertionError(f"{self.name} exited {self.proc.returncode} before "
                                     f"{text!r}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from {self.name} within {timeout} s\n"
                                     f"{self.tail()}")
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the whole process group (no clean-up in the child)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._reader.join(2)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; the group is always gone afterwards."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.kill()  # children left in the group, if any
        return self.proc.returncode


def icu_ws(*args: str) -> list[str]:
    return [sys.executable, "-m", "icu_ws.cli", *args]


class PumpProc(Proc):
    """``icu-ws pump`` with the given nodes, faults on stdin (``NODE FAULT [VALUE]``)."""

    def __init__(self, chans: Sequence[Chan], *, interface: str, channel: str,
                 speed: float = SPEED, nvm_dir: Path | None = None) -> None:
        nodes = [a for c in chans for a in ("--node", f"{c.slot}:{c.kind}")]
        # A restarted pump process boots as the next count, as a real module would.
        nvm = ("--nvm", str(nvm_dir)) if nvm_dir is not None else ()
        super().__init__(icu_ws("pump", *nodes, "--interface", interface, "--channel", channel,
                                "--speed", f"{speed:g}", "--control", "stdin",
                                "--duration", f"{BACKSTOP_S:g}", *nvm),
                         name=f"pumps {','.join(str(c.slot) for c in chans)}")
        self.slots = {c.slot for c in chans}


class WsProc(Proc):
    """The workstation process: ``ws_driver`` (headless output plus JSON answers), or with
    ``driver=False`` the shipped ``icu-ws run --headless`` itself (output only)."""

    def __init__(self, config: Path, *, driver: bool = True) -> None:
        self.replies: list[dict[str, Any]] = []
        self.driver = driver
        self._asked = 0
        every = f"{STATUS_EVERY_S:g}"
        argv = [sys.executable, "-m", "tests.crossprocess.ws_driver", "--config", str(config),
                "--status-every", every] if driver else \
            icu_ws("run", "--config", str(config), "--headless", "--status-every", every)
        super().__init__(argv, name="workstation" if driver else "icu-ws run")

    def on_line(self, line: str) -> None:
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                self.replies.append(json.loads(line))
                return
        super().on_line(line)

    async def ready(self, timeout: float = 30.0) -> None:
        if not self.driver:
            await self.wait_for("--- ", timeout=timeout)  # its first status block
            return
        await self._reply(0, timeout)
        self._asked = 1

    async def ask(self, line: str, timeout: float = 15.0) -> dict[str, Any]:
        assert self.driver, f"{self.name} has no command channel"
        index = self._asked
        self._asked += 1
        self.send(line)
        return await self._reply(index, timeout)

    async def _reply(self, index: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while len(self.replies) <= index:
            if not self.alive:
                await asyncio.sleep(0.1)
                raise AssertionError(f"workstation exited {self.proc.returncode} before "
                                     f"answering\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"workstation: no answer within {timeout} s\n{self.tail()}")
            await asyncio.sleep(0.01)
        return self.replies[index]


class ProcessRig(Rig):
    """Workstation and pumps as separate processes; a subclass per transport sets
    ``interface`` and how a foreign node sends and captures frames (``send_raw``, ``capture``)."""

    def __init__(self, tmp: Path, channel: str) -> None:
        super().__init__(tmp, channel)
        self.pumps: dict[int, PumpProc] = {}
        self.ws: WsProc | None = None
        self.dead: list[Proc] = []  # killed processes, kept for their output
        self.attackers: list[Proc] = []
        self.extras: list[PumpProc] = []

    async def start_pumps(self, group: int) -> None:
        old = self.pumps.get(group)
        if old is not None and old.alive:
            raise AssertionError(f"pump group {group} is already running")
        proc = PumpProc(self.groups[group], interface=self.interface, channel=self.channel,
                        nvm_dir=self.tmp / "nvm")
        self.pumps[group] = proc
        await proc.wait_for("pumps: nodes", timeout=30)

    async def kill_pumps(self, group: int) -> None:
        proc = self.pumps.pop(group)
        proc.kill()
        self.dead.append(proc)

    async def fault(self, slot: int, fault: str, value: float = 1.0) -> None:
        Fault(fault)  # a typo fails here, not as an "error:" line in the pump's output
        proc = self.pumps[self.group_of(slot)]
        mark = len(proc.lines)
        proc.send(f"{slot} {fault} {value:g}")
        await proc.wait_for(f"ok: node {slot} {fault}", since=mark, timeout=10)

    async def start_workstation(self, *, driver: bool = True) -> None:
        assert self.ws is None or not self.ws.alive, "the workstation is already running"
        if self.ws is not None:
            self.dead.append(self.ws)
        self.ws = WsProc(self.config_path, driver=driver)
        await self.ws.ready()

    async def kill_workstation(self) -> None:
        assert self.ws is not None
        self.ws.kill()

    async def ask(self, line: str) -> dict[str, Any]:
        assert self.ws is not None and self.ws.alive, "no workstation running"
        return await self.ws.ask(line)

    def output(self) -> list[str]:
        return self.ws.lines if self.ws is not None else []

    def diagnostics(self) -> str:
        procs: list[Proc] = [*self.dead, *self.extras, *self.attackers, *self.pumps.values()]
        if self.ws is not None:
            procs.append(self.ws)
        return "\n".join(p.tail(25) for p in procs)

    # -- the attacker (tests/crossprocess/attacker.py, a process of its own) -----------------
    def attacker(self, *args: str) -> Proc:
        """Start one attacker action on this rig's bus; ``finish`` it for its JSON answer."""
        proc = Proc([sys.executable, "-m", "tests.crossprocess.attacker", "-i", self.interface,
                     "-c", self.channel, *args], name=f"attacker {args[0]}", stdin=False)
        self.attackers.append(proc)
        return proc

    async def finish(self, proc: Proc, timeout: float = 60.0) -> dict[str, Any]:
        await proc.wait_for('"ok": true', timeout=timeout)
        answer: dict[str, Any] = json.loads(next(line for line in proc.lines
                                                 if line.startswith("{")))
        return answer

    async def attack(self, *args: str, timeout: float = 60.0) -> dict[str, Any]:
        return await self.finish(self.attacker(*args), timeout)

    async def extra_pumps(self, chans: Sequence[Chan]) -> PumpProc:
        """Another pump process (e.g. a second module on an existing node id, B4)."""
        proc = PumpProc(chans, interface=self.interface, channel=self.channel,
                        nvm_dir=self.tmp / "nvm")  # a twin: the next boot count, never the same
        self.extras.append(proc)
        await proc.wait_for("pumps: nodes", timeout=30)
        return proc

    async def close(self) -> None:
        for extra in [*self.attackers, *self.extras]:
            extra.stop(timeout=2)
        procs: list[Proc] = list(self.pumps.values())
        if self.ws is not None:
            procs.append(self.ws)
        for proc in procs:
            proc.stop(timeout=3)
        self.pumps.clear()
