"""``icu-ws record``, ``icu-ws replay`` and ``icu-ws decode``: the recorder as commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbc.errors import InfusionError
from dbc.link import BusSettings, open_bus
from dbc.recorder import BusRecorder, RecordingError, decode_lines, read_log, replay
from dbc.shutdown import stop_on_signals


def _settings(args: argparse.Namespace) -> BusSettings:
    return BusSettings(args.interface, args.channel, args.bitrate)


def main(argv: list[str] | None = None) -> int:
    """``python -m icu_ws.record record|replay|decode ...`` (as ``icu-ws``)."""
    parser = argparse.ArgumentParser(prog="python -m icu_ws.record")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def _command(name: str, body: Callable[[argparse.Namespace], int]
             ) -> Callable[[argparse.Namespace], int]:
    """Our errors as one line on stderr and exit status 2, never a traceback."""
    def handler(args: argparse.Namespace) -> int:
        try:
            return body(args)
        except InfusionError as exc:
            print(f"icu-ws {name}: {exc}", file=sys.stderr)
            return 2
    return handler


async def _record(args: argparse.Namespace) -> int:
    if args.duration < 0:
        raise RecordingError(f"--duration {args.duration}: must be >= 0")
    recorder = BusRecorder(_settings(args), args.out, max_bytes=args.max_bytes)
    stop = stop_on_signals()
    with recorder:
        print(f"recording {recorder.settings.describe()} to {args.out}; Ctrl+C stops",
              file=sys.stderr)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration or None)
    print(recorder.summary())
    return 1 if recorder.tally.error is not None else 0


async def _replay(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        raise RecordingError(f"--speed {args.speed}: must be > 0")
    with contextlib.closing(read_log(args.file)) as frames:
        next(frames, None)  # a missing or unreadable file fails here, before the bus opens
    bus = open_bus(_settings(args))
    stop = stop_on_signals()
    sent = passes = 0
    started = time.monotonic()
    try:
        while not stop.is_set():
            sent_now = await replay(bus, args.file, speed=args.speed, stop=stop)
            sent, passes = sent + sent_now, passes + 1
            if not args.loop or not sent_now:
                break
    finally:
        bus.shutdown()
    print(f"replayed {sent} frames ({passes} pass(es)) from {args.file} in "
          f"{time.monotonic() - started:.1f} s to {_settings(args).describe()}")
    return 0


def _decode(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise RecordingError(f"--limit {args.limit}: must be >= 0")
    try:
        for line in decode_lines(args.file, errors_only=args.errors_only, node=args.node,
                                 limit=args.limit):
            print(line)
    except BrokenPipeError:  # | head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _bus_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interface", required=True,
                   help="python-can interface: socketcan, remote, virtual, ...")
    p.add_argument("--channel", required=True,
                   help="python-can channel, e.g. vcan0 or ws://127.0.0.1:PORT/")
    p.add_argument("--bitrate", type=int, default=None, help="bitrate for real hardware")


RECORD_HELP = "record every frame on a CAN bus to a log file (.blf, .asc, .log, .csv)"
REPLAY_HELP = "send a recorded log onto a CAN bus with its original timing"
DECODE_HELP = "decode a recorded log with the DBC through the workstation's strict codec"


def add_parsers(sub: Any) -> None:
    r = sub.add_parser("record", help=RECORD_HELP, description=RECORD_HELP + "; prints frames, "
                       "duration and rate at the end.")
    r.add_argument("out", type=Path, help="log file to write; its extension sets the format")
    _bus_options(r)
    r.add_argument("--duration", type=float, default=0.0,
                   help="stop after this many seconds (default: until SIGINT/SIGTERM)")
    r.add_argument("--max-bytes", type=int, default=0, metavar="N",
                   help="start a new file when this size is reached (default: one file)")
    r.set_defaults(handler=_command("record", lambda a: asyncio.run(_record(a))))

    p = sub.add_parser("replay", help=REPLAY_HELP, description=REPLAY_HELP + ".")
    p.add_argument("file", type=Path, help="log file (.blf, .asc, .log, .csv)")
    _bus_options(p)
    p.add_argument("--speed", type=float, default=1.0, help="time factor (2 = twice as fast)")
    p.add_argument("--loop", action="store_true", help="replay again and again until stopped")
    p.set_defaults(handler=_command("replay", lambda a: asyncio.run(_replay(a))))

    d = sub.add_parser("decode", help=DECODE_HELP, description=DECODE_HELP + ": one line per "
                       "frame (time, id, message, node, signals or why it is rejected), then "
                       "counts by message and by error kind.")
    d.add_argument("file", type=Path, help="log file (.blf, .asc, .log, .csv)")
    d.add_argument("--errors-only", action="store_true", help="only frames the codec rejects")
    d.add_argument("--node", type=int, default=None, help="only frames of this node (0 = WS)")
    d.add_argument("--limit", type=int, default=0, metavar="N", help="stop after N lines")
    d.set_defaults(handler=_command("decode", _decode))


if __name__ == "__main__":
    sys.exit(main())
