"""Frames as a foreign node sees them: the ``RawFrame`` every rig's capture gives, and capture and
send on a python-can bus (``virtual`` or ``remote``; ``socketcan`` uses candump and cansend)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import can


@dataclass(frozen=True)
class RawFrame:
    arbitration_id: int
    extended: bool
    data: bytes
    line: str  # as captured, for messages

    @property
    def dlc(self) -> int:
        return len(self.data)


class BusCapture:
    """Every frame on a python-can bus (``virtual`` or ``remote``), read in a thread."""

    def __init__(self, interface: str, channel: str) -> None:
        self.frames: list[RawFrame] = []
        self._bus = can.Bus(interface=interface, channel=channel)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="capture", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            msg = self._bus.recv(0.05)
            if msg is not None and not msg.is_error_frame:
                frame = RawFrame(msg.arbitration_id, msg.is_extended_id, bytes(msg.data),
                                 str(msg))
                self.frames.append(frame)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._bus.shutdown()


def send_with_python_can(interface: str, channel: str, msgs: Sequence[can.Message]) -> None:
    bus = can.Bus(interface=interface, channel=channel)
    try:
        for msg in msgs:
            bus.send(msg)
        time.sleep(0.1)  # remote: let the client deliver before it disconnects
    finally:
        bus.shutdown()
