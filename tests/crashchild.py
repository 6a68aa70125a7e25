"""A child process killed with SIGKILL mid-write: the test bench of the kill -9 durability tests
(event log, telemetry outbox). The child prints one line per write that returned (committed);
the test reads some, kills it, and checks that every printed write survived."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pytest


def read_lines(proc: subprocess.Popen[bytes], count: int, timeout: float = 60.0) -> bytes:
    """At least ``count`` complete lines of the child's stdout, without blocking forever."""
    assert proc.stdout is not None
    fd, buf = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while buf.count(b"\n") < count:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            got = buf.count(b"\n")
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"child gave {got} of {count} lines in time; exit status "
                        f"{proc.poll()}\n{err}")
        if select.select([fd], [], [], min(left, 1.0))[0]:
            buf += os.read(fd, 65536)
    return buf


def kill_9(proc: subprocess.Popen[bytes]) -> bytes:
    """SIGKILL, then the rest of its stdout (its last line may be torn). Never leaves it. A
    child that had already exited is not judged here: the caller's own failure says why."""
    was_running = proc.poll() is None
    try:
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if was_running:
        assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")
    return rest
