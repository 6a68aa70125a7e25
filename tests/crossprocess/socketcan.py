"""The ``socketcan`` transport: workstation and pumps as processes on a real SocketCAN ``vcan0``.

A foreign node is can-utils (``cansend``, ``candump -L``), not python-can: the frames are seen
as the kernel has them. Where this host has no ``vcan0`` up, ``scripts/vcan/run.py``
(``vcan_runner``) runs the suite in a User-Mode Linux guest that has one (``test_vcan.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from types import ModuleType

import can

from tests.crossprocess.bus import RawFrame
from tests.crossprocess.processes import Proc, ProcessRig
from tests.crossprocess.rig import ROOT


def vcan_runner() -> ModuleType:
    """``scripts/vcan/run.py`` (not a package) as a module: ``run_in_vcan``, ``where``..."""
    name = "icu_ws_vcan_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "vcan" / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def socketcan_missing() -> str | None:
    """Why the socketcan rig cannot run on this host (the skip reason), or None if it can."""
    if not vcan_runner().host_vcan_up():
        return ("no SocketCAN vcan0 up on this machine; "
                "tests/crossprocess/test_vcan.py runs this class in a User-Mode Linux guest")
    missing = [tool for tool in ("candump", "cansend") if shutil.which(tool) is None]
    return f"{', '.join(missing)} missing: install can-utils" if missing else None


CANDUMP_LINE = re.compile(r"^\(\d+\.\d+\)\s+\S+\s+([0-9A-Fa-f]+)#([0-9A-Fa-f]*)$")


def parse_candump_log(line: str) -> RawFrame:
    """One ``candump -L`` line, e.g. ``(1700000000.000001) vcan0 301#00112233...``.

    Three hex digits are an 11-bit identifier, eight a 29-bit one (as cansend writes them).
    Anything else (remote ``#R``, CAN FD ``##``, error frames) has ``arbitration_id`` -1."""
    m = CANDUMP_LINE.match(line.strip())
    if m is None:
        return RawFrame(-1, False, b"", line)
    ident, data = m.groups()
    return RawFrame(int(ident, 16), len(ident) > 3, bytes.fromhex(data), line)


def cansend_arg(msg: can.Message) -> str:
    ident = f"{msg.arbitration_id:08X}" if msg.is_extended_id else f"{msg.arbitration_id:03X}"
    return f"{ident}#{bytes(msg.data).hex().upper()}"


class SocketcanRig(ProcessRig):
    """Workstation and pumps as separate processes on a SocketCAN interface (``vcan0``)."""

    interface = "socketcan"

    def send_raw(self, msgs: Sequence[can.Message]) -> None:
        for msg in msgs:
            subprocess.run(["cansend", self.channel, cansend_arg(msg)], check=True, timeout=10)

    @contextlib.asynccontextmanager
    async def capture(self) -> AsyncIterator[list[RawFrame]]:
        frames: list[RawFrame] = []
        dump = Proc(["candump", "-L", self.channel], name="candump", stdin=False)
        try:
            await asyncio.sleep(0.3)  # candump has bound its socket
            yield frames
        finally:
            dump.stop()
        frames.extend(parse_candump_log(line) for line in dump.lines if line.strip())
