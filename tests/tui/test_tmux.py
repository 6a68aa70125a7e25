"""The real ``icu-ws demo`` in a real terminal (tmux): cards, help, a simulated occlusion, quit.

A private tmux server (``-L`` with a unique socket name) runs one 100x30 session; the test types
the command into its shell, reads the screen with ``capture-pane -p`` and presses keys with
``send-keys``. The server is always killed at the end, and the demo with it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXITED = "DEMO-EXITED-"


class Terminal:
    def __init__(self, tmux: str, name: str) -> None:
        self.tmux, self.name = tmux, name

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([self.tmux, "-L", self.name, *args], capture_output=True,
                              text=True, timeout=10, check=check)
        return done.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)
        time.sleep(0.3)  # a lone Escape must not merge with the next key into alt+key

    def forget_socket(self) -> None:
        """kill-server leaves the socket file behind: remove ours."""
        folder = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (folder / self.name).unlink(missing_ok=True)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name, check=False)

    def wait(self, what: str, ready: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if ready(screen):
                return screen
            if exited(screen):
                raise AssertionError(f"the demo ended while waiting for {what}:\n{screen}")
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; screen:\n{screen}")


def exited(screen: str) -> bool:
    """The shell printed the demo's exit status.

    The typed command spells the marker with an empty quote inside it (``DEMO-EX""ITED-``), so the
    echoed command line never matches, even where the terminal wraps it.
    """
    return EXITED in screen


def demo_pids(marker: str) -> list[int]:
    """Our demo process(es): the only ones whose command line holds our unique event log."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline and "icu_ws.cli" in cmdline:
                pids.append(int(proc.name))
    return pids


def all_cards(screen: str) -> bool:
    return "INFUSING" in screen and all(re.search(rf"(?m)(^| ){letter}  \S", screen)
                                        for letter in "ABCD")


def test_demo_in_tmux(tmp_path: Path) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not on PATH (scripts/test.sh installs it)")
    name = f"icu-views-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    log = tmp_path / f"{name}.db"
    term = Terminal(tmux, name)
    marker = f'{EXITED[:7]}""{EXITED[7:]}'  # the shell prints DEMO-EXITED-<status>
    command = (f"{shlex.quote(sys.executable)} -m icu_ws.cli demo --channels 4 --speed 30 "
               f"--no-bell --event-log {shlex.quote(str(log))}; echo {marker}$?")
    try:
        term.run("new-session", "-d", "-s", name, "-x", "100", "-y", "30", "-c", str(ROOT))
        term.keys(command, "Enter")
        term.wait("four channel cards and INFUSING", all_cards, timeout=40)
        assert demo_pids(str(log)), "the demo process is not running"

        term.keys("?")
        term.wait("the help", lambda s: "Keys" in s and "Acknowledge" in s)
        term.keys("Escape")
        term.wait("help closed", lambda s: "Select a channel" not in s and all_cards(s))

        term.keys("C-f")
        term.wait("the simulator", lambda s: "Simulate a fault on channel A" in s)
        term.keys("a")  # a  Occlusion on
        term.wait("a HIGH alarm (***) on A", lambda s: "*** A" in s)
        term.keys("Escape")
        term.wait("simulator closed", lambda s: "Simulate a fault" not in s)

        term.keys("Space")
        term.wait("AUDIO PAUSED", lambda s: "AUDIO PAUSED" in s)

        term.keys("C-q")
        term.wait("the quit question", lambda s: "Quit the workstation?" in s)
        term.keys("y")
        screen = term.wait("the demo to exit", exited)
        assert f"{EXITED}0" in screen, screen
        deadline = time.monotonic() + 5
        while demo_pids(str(log)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not demo_pids(str(log)), "the demo process is still running"
    finally:
        term.run("kill-server", check=False)
        term.forget_socket()
        for pid in demo_pids(str(log)):  # only ours: the command line holds our unique log
            os.kill(pid, signal.SIGKILL)


# -- issue 12: what a nurse sees at the smallest and the largest supported size ---------------
def banner_row(screen: str) -> str:
    lines = screen.splitlines()
    return lines[1] if len(lines) > 1 else ""


def key_line(screen: str) -> str:
    lines = [line for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""


FOOTER_WORDS = {"space", "Audio", "pause", "⏎", "Actions", "f2", "Program", "f3", "Start", "f4",
                "Pause", "f5", "Stop", "f9", "Acknowledge", "^k", "Lock", "Unlock", "?", "Help"}


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_nurse_view_at_supported_sizes(tmp_path: Path, size: tuple[int, int]) -> None:
    """A HIGH alarm on A stays on row 1 over the program form, its review and the simulator;
    Back from the review leaves the cursor on the field (the next Enter reviews again); the key
    line is never cut mid-word and, locked, lists only what works; channels below the fold are
    counted with the alarming one named; the quit question says the demo's pumps stop."""
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not on PATH (scripts/test.sh installs it)")
    width, height = size
    name = f"icu-nurse-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    log = tmp_path / f"{name}.db"
    term = Terminal(tmux, name)
    marker = f'{EXITED[:7]}""{EXITED[7:]}'
    command = (f"{shlex.quote(sys.executable)} -m icu_ws.cli demo --channels 12 --speed 30 "
               f"--no-bell --event-log {shlex.quote(str(log))}; echo {marker}$?")
    try:
        term.run("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), "-c",
                 str(ROOT))
        term.keys(command, "Enter")
        term.wait("channel cards and INFUSING", all_cards, timeout=40)
        screen = term.screen()
        assert all(w in FOOTER_WORDS for w in key_line(screen).split()), key_line(screen)

        term.keys("C-f")
        term.wait("the simulator", lambda s: "Simulate a fault on channel A" in s)
        term.keys("a")  # occlusion on A: the banner shows it over the simulator
        term.wait("*** A on row 1 over the simulator", lambda s: "*** A" in banner_row(s))
        term.keys("Escape")
        term.wait("simulator closed", lambda s: "Simulate a fault" not in s)

        term.keys("c")
        term.keys("1")
        term.wait("the program form", lambda s: "Program channel C" in s)
        term.wait("*** A on row 1 over the form", lambda s: "*** A" in banner_row(s), 2.0)
        term.keys("plasma", literal=True)
        term.keys("Enter")  # on to the container
        term.keys("Enter")
        term.wait("the list of bags", lambda s: s.count("Choose the concentration") >= 2)
        term.keys("Down")
        term.keys("Enter")  # the first bag; on to the rate
        term.keys("100", literal=True)
        term.keys("Enter")
        term.wait("the review", lambda s: "Review: channel C" in s)
        term.wait("*** A on row 1 over the review", lambda s: "*** A" in banner_row(s), 2.0)
        term.keys("Escape")  # Back
        term.wait("back on the form", lambda s: "Review: channel C" not in s and
                  "Program channel C" in s)
        term.keys("Enter")  # the cursor is still on the rate: Enter reviews again
        term.wait("the review again", lambda s: "Review: channel C" in s)
        term.keys("Escape")
        term.keys("Escape")
        term.wait("form closed", lambda s: "Program channel" not in s and "Review" not in s)

        if height < 50:  # 12 cards do not fit at 80x24: the rest is counted, alarms named
            term.keys("Down")  # move off A: A stays on screen, the last rows are below
            screen = term.wait("the off-screen line", lambda s: "channels below" in s)
            ui_line = next(line for line in screen.splitlines() if "channels below" in line)
            assert "alarming" in ui_line or "none alarming" in ui_line, ui_line

        term.keys("C-q")
        screen = term.wait("the quit question", lambda s: "Quit the workstation?" in s and
                           "*** A" in banner_row(s))
        assert "simulated pumps" in screen and "STOP" in screen, screen
        term.keys("Escape")
        term.wait("quit question closed", lambda s: "Quit the workstation?" not in s)

        term.keys("C-k")  # lock
        screen = term.wait("locked key line", lambda s: "Unlock" in key_line(s))
        words = key_line(screen).split()
        assert all(w in FOOTER_WORDS for w in words), words
        assert "Program" not in words and "Acknowledge" not in words, words
    finally:
        term.run("kill-server", check=False)
        term.forget_socket()
        for pid in demo_pids(str(log)):  # only ours: the command line holds our unique log
            os.kill(pid, signal.SIGKILL)
