"""``icu-ws monitor``: the central monitor of every workstation publishing to one MQTT broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dbc.errors import ConfigError

if TYPE_CHECKING:  # the UI and MQTT stacks load only when the monitor runs, not for --help
    from tui.monitor.feed import MqttFeed
    from tui.monitor.model import MonitorModel
    from workstation.telemetry.connection import BrokerAccess

HELP = "central monitor: every workstation's channels and alarms from the MQTT broker"
DESCRIPTION = HELP + """. Subscribes to ROOT/# and shows, for the whole unit, the alarms of
every workstation (HIGH first, then the oldest), and each bed's channels: drug, dose, mL/h,
state and alarm. A workstation that said it went offline, or that has been silent too long, is
marked OFFLINE or STALE: its values are the last ones heard. Read-only: nothing is sent to the
workstations. Exit status 2 on a wrong URL or an unreadable file."""
_ROOT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("monitor", help=HELP, description=DESCRIPTION)
    p.add_argument("--mqtt", required=True, metavar="URL",
                   help="broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)")
    p.add_argument("--username", default=None, help="broker user (overrides one in the URL)")
    p.add_argument("--password-file", type=Path, default=None, metavar="FILE",
                   help="file whose first line is the password (never on the command line)")
    p.add_argument("--ca-file", type=Path, default=None, metavar="FILE",
                   help="mqtts: the CA that signed the broker's certificate (default: system)")
    p.add_argument("--cert-file", type=Path, default=None, metavar="FILE",
                   help="mqtts: client certificate, when the broker asks for one")
    p.add_argument("--key-file", type=Path, default=None, metavar="FILE",
                   help="mqtts: the client certificate's key")
    p.add_argument("--topic-root", default="icu", metavar="ROOT",
                   help="first topic level of the workstations (default: icu)")
    p.add_argument("--stale-after", type=float, default=None, metavar="S",
                   help="seconds of silence before a workstation is STALE (default: 3 x its "
                        "observation period, at least 30)")
    p.add_argument("--headless", action="store_true",
                   help="no terminal UI: a summary line on stdout every --status-every seconds")
    p.add_argument("--duration", type=float, default=0.0, metavar="S",
                   help="stop after this many seconds (default: until q, SIGINT or SIGTERM)")
    p.add_argument("--status-every", type=float, default=5.0, metavar="S",
                   help="seconds between summary lines in headless mode (default 5)")
    p.set_defaults(handler=monitor)


def _fail(message: str) -> int:
    print(f"icu-ws monitor: {message}", file=sys.stderr)
    return 2


def _check(args: argparse.Namespace) -> str | None:
    """What is wrong with the options that argparse cannot see, in one line; None if fine."""
    if not _ROOT.match(args.topic_root):
        return f"--topic-root {args.topic_root!r}: use 1-32 letters, digits, '-' or '_'"
    if args.stale_after is not None and args.stale_after <= 0:
        return f"--stale-after {args.stale_after:g}: must be > 0"
    if args.duration < 0 or args.status_every <= 0:
        return "--duration must be >= 0 and --status-every > 0"
    if (args.cert_file is None) != (args.key_file is None):
        return "--cert-file and --key-file go together"
    tls_files = [f for f in (args.ca_file, args.cert_file) if f is not None]
    if tls_files and not args.mqtt.strip().lower().startswith("mqtts://"):
        return f"{tls_files[0]}: TLS files are for an mqtts:// URL, not {args.mqtt!r}"
    for path in (args.ca_file, args.cert_file, args.key_file):
        if path is not None and not path.is_file():
            return f"{path}: cannot read the file"
    return None


def monitor(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        return _fail(problem)
    from workstation.telemetry.connection import BrokerAccess

    try:
        access = BrokerAccess.build(args.mqtt, username=args.username,
                                    password_file=args.password_file, ca_file=args.ca_file,
                                    cert_file=args.cert_file, key_file=args.key_file)
    except ConfigError as exc:
        where = "--mqtt" if exc.path == "telemetry.url" else exc.path
        return _fail(f"{where}: {'; '.join(exc.problems)}")
    try:
        return asyncio.run(_run(args, access))
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, access: BrokerAccess) -> int:
    from tui.monitor.feed import MqttFeed
    from tui.monitor.model import MonitorModel

    model = MonitorModel(root=args.topic_root, stale_after_s=args.stale_after)
    feed = MqttFeed(access, root=args.topic_root)
    if args.headless:
        await run_headless(model, feed, duration=args.duration or None,
                           status_every_s=args.status_every)
        return 0
    from tui.monitor.app import MonitorApp

    app = MonitorApp(model, feed=feed)
    if args.duration:
        asyncio.get_running_loop().call_later(args.duration, app.exit)
    await app.run_async()
    return app.return_code or 0


def summary(model: MonitorModel, now: float, connection: str, rate: float) -> str:
    """One line for benches and logs: workstations, alarms by priority, stale, traffic."""
    stale = model.stale(now)
    offline = sum(1 for ws in stale if ws.offline)
    counts = model.counts()
    alarms = ", ".join(f"{counts[p]} {p}" for p in ("HIGH", "MEDIUM", "LOW", "INFO")
                       if counts.get(p)) or "none"
    bad = ", ".join(f"{k}={n}" for k, n in sorted(model.dropped.items())) or "none"
    return (f"{time.strftime('%H:%M:%S', time.localtime(now))} monitor: "
            f"{len(model.workstations())} workstations ({len(stale) - offline} stale, "
            f"{offline} offline); alarms: {alarms}; {model.received} messages "
            f"({rate:.0f}/s); dropped: {bad}; broker {connection}")


async def run_headless(model: MonitorModel, feed: MqttFeed, *, duration: float | None,
                       status_every_s: float, out: TextIO | None = None) -> None:
    """Feed the model from the broker and print a summary line every ``status_every_s``."""
    from dbc.shutdown import stop_on_signals

    out = out or sys.stdout
    stop = stop_on_signals()
    connection = ["connecting"]

    def on_state(state: str) -> None:
        if state != connection[0]:
            print(f"monitor: broker {feed.broker}: {state}", file=out, flush=True)
        connection[0] = state

    def on_message(topic: str, payload: bytes, retained: bool) -> None:
        model.ingest(topic, payload, time.time(), retained=retained)

    task = asyncio.create_task(feed.run(on_message, on_state))
    loop = asyncio.get_running_loop()
    end = loop.time() + duration if duration else None
    mark = (time.time(), model.received)
    try:
        while not stop.is_set() and not task.done():
            wait = status_every_s if end is None else min(status_every_s, end - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0))
            now = time.time()
            rate = (model.received - mark[1]) / max(now - mark[0], 1e-6)
            mark = (now, model.received)
            print(summary(model, now, connection[0], rate), file=out, flush=True)
            if end is not None and loop.time() >= end:
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error  # a bug in the feed, not a broker outage (those are retried)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m icu_ws.monitor``: this subcommand alone (= ``icu-ws monitor``)."""
    parser = argparse.ArgumentParser(prog="icu-ws")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["monitor", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
