"""The ``remote`` transport: workstation and pumps as processes on a python-can-remote hub on
127.0.0.1 (``tests.buslab.remote_hub``); a foreign node is one more python-can client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import can

from tests.crossprocess.bus import BusCapture, RawFrame, send_with_python_can
from tests.crossprocess.processes import ProcessRig


class RemoteRig(ProcessRig):
    """Workstation and pumps as separate processes on the hub at ``channel``."""

    interface = "remote"

    def send_raw(self, msgs: Sequence[can.Message]) -> None:
        send_with_python_can(self.interface, self.channel, msgs)

    @contextlib.asynccontextmanager
    async def capture(self) -> AsyncIterator[list[RawFrame]]:
        frames: list[RawFrame] = []
        cap = await asyncio.to_thread(BusCapture, self.interface, self.channel)
        try:
            await asyncio.sleep(0.2)
            yield frames
        finally:
            cap.close()
        frames.extend(cap.frames)
