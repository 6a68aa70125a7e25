"""The workstation process of the cross-process suite: ``icu-ws run --headless`` plus a command
channel on stdin, so tests can program channels in a workstation that runs in its own process.

    python -m tests.crossprocess.ws_driver --config ws.toml [--status-every 1]

It builds the same ``workstation.api.Workstation`` from the config as ``icu-ws run`` and prints
the same headless output (status blocks, alarm lines). In addition it reads one command per line
on stdin and answers each, in order, with one JSON line starting with ``{`` (no status or alarm
line starts with ``{``). The first JSON line, ``{"ok": true, "ready": true}``, says the
workstation is running. Every answer has ``"ok"``; a failed command has ``"error"``.

    program A DRUG (rate R | dose D) vtbi V [weight KG] [confirm]   check, send, verify
    start A | pause A | stop A                                      acknowledged commands
    status                   {"channels": [ChannelSnapshot fields...]}
    alarms                   {"alarms": [{id, source, condition, priority, text, active...}]}
    counters                 {"frame_errors": {kind: n}, "rx": {bus: {accepted, errors,
                             error_frames}}, "bus": {bus: bus_monitor figures}}
    ack ID                   acknowledge an alarm
    quit                     answer, then stop like SIGTERM (the pumps keep running)

End of stdin stops it too, so a test that dies never leaves a workstation behind.
``handle`` is also called in-process by the ``virtual`` transport of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from channels.controller import ChannelError
from channels.planning import InfusionOrder
from dbc.errors import InfusionError
from workstation.api import Workstation
from workstation.config import load_config
from workstation.headless import run_headless

USER = "xp-test"


class CommandError(Exception):
    """A command line the driver does not understand."""


def _program_order(words: list[str]) -> tuple[str, InfusionOrder, bool]:
    if len(words) < 2:
        raise CommandError("program LETTER DRUG (rate R | dose D) vtbi V [weight KG] [confirm]")
    letter, drug, rest = words[0], words[1], words[2:]
    confirm = "confirm" in rest
    rest = [w for w in rest if w != "confirm"]
    if len(rest) % 2:
        raise CommandError(f"program: expected NAME VALUE pairs, got {rest}")
    names = {"rate": "rate_ml_h", "dose": "dose", "vtbi": "vtbi_ml", "weight": "weight_kg"}
    fields: dict[str, Any] = {"drug_id": drug}
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if name not in names:
            raise CommandError(f"program: unknown field {name!r}; one of {sorted(names)}")
        fields[names[name]] = float(value)
    return letter, InfusionOrder(**fields), confirm


def _alarm(a: Any) -> dict[str, Any]:
    return {"id": a.id, "source": a.key.source, "condition": a.key.condition,
            "priority": a.priority.name, "text": a.text, "active": a.active,
            "latching": a.latching, "acknowledged": a.acknowledged}


async def handle(ws: Workstation, line: str) -> dict[str, Any]:
    """Run one command line against ``ws``; the JSON-able answer (never raises for a refusal)."""
    words = line.split()
    if not words:
        return {"ok": False, "error": "empty command"}
    cmd, args = words[0], words[1:]
    answer: dict[str, Any] = {"ok": True, "cmd": cmd}
    try:
        if cmd == "program":
            letter, order, confirm = _program_order(args)
            plan = await ws.program(letter, order, confirm=confirm, user=USER)
            answer["plan"] = plan.model_dump(mode="json")
        elif cmd in ("start", "pause", "stop") and len(args) == 1:
            await getattr(ws, cmd)(args[0], user=USER)
        elif cmd == "status":
            answer["channels"] = [dataclasses.asdict(s) for s in ws.channels()]
        elif cmd == "alarms":
            answer["alarms"] = [_alarm(a) for a in ws.active_alarms()]
        elif cmd == "counters":
            sup = ws.supervisor
            answer["frame_errors"] = dict(sup.frame_errors)
            answer["rx"] = {name: {"accepted": link.stats.rx.accepted,
                                   "errors": dict(link.stats.rx.errors),
                                   "error_frames": link.stats.error_frames}
                            for name, link in sup.links.items()}
            answer["bus"] = sup.bus_monitor.figures()
        elif cmd == "ack" and len(args) == 1:
            ws.acknowledge(int(args[0]), user=USER)
        elif cmd == "quit":
            pass
        else:
            raise CommandError(f"unknown command {line.strip()!r}")
    except (CommandError, ChannelError, InfusionError, ValueError, TimeoutError) as exc:
        return {"ok": False, "cmd": cmd, "error": f"{type(exc).__name__}: {exc}"}
    return answer


def _reply(answer: dict[str, Any]) -> None:
    print(json.dumps(answer, default=str), flush=True)


async def _lines() -> AsyncIterator[bytes]:
    """stdin line by line: a pipe or terminal without blocking the loop; a file or /dev/null
    (which epoll refuses, and which never block) from a thread."""
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty():
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            yield line
    else:
        while line := await asyncio.to_thread(sys.stdin.buffer.readline):
            yield line


async def _commands(ws: Workstation, stop: asyncio.Event) -> None:
    async for line in _lines():
        text = line.decode(errors="replace").strip()
        if not text:
            continue
        _reply(await handle(ws, text))
        if text == "quit":
            break
    stop.set()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--status-every", type=float, default=1.0)
    args = parser.parse_args(argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Workstation(load_config(args.config)) as ws:
        _reply({"ok": True, "ready": True})
        commands = asyncio.create_task(_commands(ws, stop))
        await run_headless(ws, stop, status_every_s=args.status_every)
        commands.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await commands
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
