"""Test bench helpers: a python-can-remote hub on loopback and a frame probe on any transport.

Used by the transport-parity suites (python-can's back2back pattern): the same conversation runs
over ``virtual`` and over ``remote``, so a failure on one is told apart from a bug in our code.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from dbc.codec import FrameCodec
from dbc.errors import FrameError
from dbc.frames import Frame
from dbc.link import BusSettings, CanLink

F = TypeVar("F", bound=Frame)
_CODEC: FrameCodec | None = None


def codec() -> FrameCodec:
    """One codec for the whole test session (loading the DBC takes ~0.4 s)."""
    global _CODEC
    if _CODEC is None:
        _CODEC = FrameCodec()
    return _CODEC


def free_port() -> int:
    """A free TCP port on 127.0.0.1 below the ephemeral range."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000..32000 on 127.0.0.1")


@contextlib.contextmanager
def remote_hub() -> Iterator[str]:
    """Start ``python -m can_remote`` on 127.0.0.1 (virtual hub); yields its ws:// channel."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "can_remote", "-i", "virtual", "-c", "hub",
         "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"can_remote hub did not start on port {port}")
            time.sleep(0.05)
        yield f"ws://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class FrameProbe:
    """The test's own node on the bus: sends frames, records and awaits what it receives."""

    def __init__(self, settings: BusSettings) -> None:
        self.frames: list[Frame] = []
        self.errors: list[FrameError] = []
        self._changed = asyncio.Event()
        self.link = CanLink(settings, codec(), self._on_frame,
                            on_frame_error=lambda exc, _msg: self.errors.append(exc),
                            name="probe")

    def _on_frame(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._changed.set()

    async def __aenter__(self) -> FrameProbe:
        await self.link.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.link.close()

    def send(self, frame: Frame) -> None:
        assert self.link.send(frame), f"bus refused {frame!r}"

    def of(self, kind: type[F], node: int | None = None) -> list[F]:
        return [f for f in self.frames
                if isinstance(f, kind) and (node is None or f.node == node)]

    async def expect(self, kind: type[F], where: Callable[[F], bool] = lambda f: True, *,
                     node: int | None = None, timeout: float = 5.0, after: int = 0) -> F:
        """The first frame of ``kind`` (from ``node``) matching ``where``, received after
        ``self.frames[after]``; fails the test after ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = after
        while True:
            for frame in self.frames[seen:]:
                if isinstance(frame, kind) and (node is None or frame.node == node) \
                        and where(frame):
                    return frame
            seen = len(self.frames)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                recent = [f for f in self.frames[-8:]]
                raise AssertionError(f"no {kind.__name__} from node {node} within {timeout}s; "
                                     f"last frames: {recent}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
