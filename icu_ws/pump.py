"""``icu-ws pump``: simulated pump modules as their own process, on any python-can interface."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

from dbc.link import BusSettings
from dbc.shutdown import stop_on_signals
from dbc.vocabulary import ModuleKind
from pumps.module import Fault, SimulatedModule
from pumps.nvm import next_boot_count
from pumps.rack import PumpRack

HELP = "run simulated pump modules (volumetric or syringe) on a CAN bus"
EPILOG = """\
examples:
  icu-ws pump --node 1 --node 2 --interface virtual --channel icu
  icu-ws pump --kind syringe --node 3 --interface remote --channel ws://127.0.0.1:PORT/ --speed 60
  icu-ws pump --node 1:volumetric --node 2:syringe --control stdin

--control stdin reads one fault per line, "NODE FAULT [VALUE]" (VALUE 0 clears a switch):
  3 occlusion 1    clamp the line of node 3      3 occlusion 0   release it
  3 air 120        a 120 uL bubble               3 calibration 15  +15 % delivery error
  3 clear-air      the nurse removed the air at the pump (the only way to clear an air stop)
  3 battery-minutes 4   off mains, 4 minutes left with the motor running
faults: """ + ", ".join(f.value for f in Fault)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("pump", help=HELP, description=HELP + ".", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--node", action="append", required=True, metavar="SLOT[:KIND]",
                   help="slot 1..31 of a module to simulate (repeat for several modules)")
    p.add_argument("--kind", choices=["volumetric", "syringe"], default="volumetric",
                   help="module kind for --node values without one (default: volumetric)")
    p.add_argument("--interface", default="virtual",
                   help="python-can interface: socketcan, virtual, remote, ... (default: virtual)")
    p.add_argument("--channel", default="icu",
                   help="python-can channel, e.g. vcan0 or ws://127.0.0.1:PORT/ (default: icu)")
    p.add_argument("--bitrate", type=int, default=None, help="bitrate for real hardware")
    p.add_argument("--speed", type=float, default=1.0,
                   help="module clock speed factor: 60 runs an hour of infusion in a minute")
    p.add_argument("--duration", type=float, default=0.0,
                   help="stop after this many seconds (default: run until SIGINT/SIGTERM)")
    p.add_argument("--control", choices=["none", "stdin"], default="none",
                   help="read fault-injection lines from stdin (see below)")
    p.add_argument("--nvm", type=Path, default=None, metavar="DIR",
                   help="folder for each module's non-volatile memory (its boot count), so a "
                        "restarted process boots as the next count, like a real module "
                        "(default: a random boot count at every start)")
    p.set_defaults(handler=run)


def parse_node(text: str, default_kind: str) -> tuple[int, ModuleKind]:
    slot, _, kind = text.partition(":")
    try:
        node = int(slot)
        module_kind = ModuleKind[(kind or default_kind).upper()]
    except (ValueError, KeyError):
        raise SystemExit(f"icu-ws pump: --node {text!r}: expected SLOT or SLOT:KIND, "
                         "e.g. 3 or 3:syringe") from None
    if not 1 <= node <= 31:
        raise SystemExit(f"icu-ws pump: --node {text!r}: slot must be 1..31")
    return node, module_kind


def apply_control_line(rack: PumpRack, line: str) -> str:
    """Apply one "NODE FAULT [VALUE]" line, or "NODE show" (the module's state, alarms,
    last workstation heartbeat and receive counters); returns what to print."""
    parts = line.split()
    if not parts:
        return ""
    if len(parts) == 2 and parts[1] == "show" and parts[0].isdigit() and \
            int(parts[0]) in rack.modules:
        return rack.describe(int(parts[0]))
    try:
        node, fault = int(parts[0]), Fault(parts[1])
        value = float(parts[2]) if len(parts) > 2 else 1.0
        rack[node].inject(fault, value)
    except (IndexError, ValueError, KeyError) as exc:
        return f"error: {line.strip()!r}: {exc}; expected NODE FAULT [VALUE]"
    return f"ok: node {node} {fault.value} {value:g}"


async def _read_control(rack: PumpRack) -> None:
    """Fault lines from stdin, whatever stdin is (pipe, terminal, file, /dev/null).

    A thread does the blocking read; it is a daemon so a blocked read never keeps the
    process from exiting on SIGTERM."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read, name="pump-control", daemon=True).start()
    while line := await lines.get():
        reply = apply_control_line(rack, line)
        if reply:
            print(reply, flush=True)


async def serve(args: argparse.Namespace) -> int:
    nodes = [parse_node(n, args.kind) for n in args.node]
    if len({n for n, _ in nodes}) != len(nodes):
        raise SystemExit("icu-ws pump: each --node slot may be given once")
    modules = [SimulatedModule(node, kind, boot_count=next_boot_count(args.nvm, node))
               for node, kind in nodes]
    settings = BusSettings(args.interface, args.channel, args.bitrate)
    stop = stop_on_signals()
    async with PumpRack(settings, modules, speed=args.speed) as rack:
        rack.on_conflict = lambda text: print(text, flush=True)  # B4: said, never silent
        print(f"pumps: nodes {', '.join(f'{n}:{k.name.lower()}' for n, k in nodes)} on "
              f"{settings.describe()} at speed {args.speed:g}", flush=True)
        control = asyncio.create_task(_read_control(rack)) if args.control == "stdin" else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration or None)
        if control is not None:
            control.cancel()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))
