"""``icu-ws log``: query the event log, as a table or as CSV, while the workstation runs.

The log is opened read-only, so this never blocks or disturbs the supervisor writing it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from channels.events import EventKind, LogRow, kind_text
from workstation.eventlog import DEFAULT_PATH, ENV_VAR, EventLog, EventLogError

DEMO_PATH = Path("var") / "demo-events.db"  # where ``icu-ws demo`` writes by default

HELP = "query the event log and export it as CSV"
TABLE_LIMIT = 50
EPILOG = f"""\
The log is --db, else ${ENV_VAR}, else {DEFAULT_PATH} under the current directory, else the
demo's {DEMO_PATH} (icu-ws demo prints its log's path when it starts).
--since/--until take ISO-8601 (2024-05-01T08:00, 2024-05-01T08:00Z; no offset = local time)
or an age: 90s, 30m, 2h, 1d, 1w ago. --since is inclusive, --until exclusive.
The table shows local time; CSV has UTC with microseconds and the event data as JSON.

examples:
  icu-ws log --since 2h --kind alarm --kind override
  icu-ws log --channel A --grep heparin --limit 0
  icu-ws log --user rn-jones --since 8h
  icu-ws log --grep "hard limit" --since 1w
  icu-ws log --since 2024-05-01T00:00 --until 2024-05-02T00:00 --csv day.csv
"""

_AGE = re.compile(r"(\d+(?:\.\d*)?)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class UsageError(Exception):
    """A bad option value: reported as one line and exit status 2."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("log", help=HELP, description=HELP + ".", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", metavar="PATH", default=None,
                   help=f"event log file (default: ${ENV_VAR}, else {DEFAULT_PATH})")
    p.add_argument("--channel", metavar="NAME", help="only this channel, e.g. A")
    p.add_argument("--kind", action="append", choices=[k.value for k in EventKind],
                   metavar="KIND", help="only events of this kind (repeatable): "
                   + ", ".join(k.value for k in EventKind))
    p.add_argument("--since", metavar="WHEN", help="from this time on (ISO-8601 or age: 2h)")
    p.add_argument("--until", metavar="WHEN", help="before this time (ISO-8601 or age: 30m)")
    p.add_argument("--user", metavar="NAME",
                   help="only events done by this user (as logged at unlock, e.g. rn-jones)")
    p.add_argument("--grep", metavar="TEXT",
                   help="only events whose message or data contains TEXT (any case)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help=f"at most N events, the most recent (default: {TABLE_LIMIT} for the "
                   "table, all for --csv; 0 = all)")
    p.add_argument("--newest-first", action="store_true", help="newest event first")
    p.add_argument("--csv", metavar="FILE",
                   help="export the events as CSV to FILE ('-' = stdout) instead of the table")
    p.set_defaults(handler=run)


def parse_when(text: str, option: str, now: datetime | None = None) -> datetime:
    """ISO-8601 (naive = local time) or an age before ``now`` like ``30m``; aware result."""
    age = _AGE.fullmatch(text.strip().lower())
    if age:
        seconds = float(age.group(1)) * _UNIT_S[age.group(2)]
        return (now or datetime.now().astimezone()) - timedelta(seconds=seconds)
    try:
        return datetime.fromisoformat(text.strip()).astimezone()
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected ISO-8601 such as 2024-05-01T08:00 "
                         "or an age such as 90s, 30m, 2h, 1d, 1w") from None


def db_path(args: argparse.Namespace) -> Path:
    """Read at run time, not when the parser is built, so the environment can change. With
    no --db and no variable: the workstation's log, else the demo's (said on stderr)."""
    chosen = args.db or os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen)
    if not DEFAULT_PATH.is_file() and DEMO_PATH.is_file():
        print(f"icu-ws log: reading the demo's log {DEMO_PATH} (no {DEFAULT_PATH} here)",
              file=sys.stderr)
        return DEMO_PATH
    return DEFAULT_PATH


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (UsageError, EventLogError) as exc:
        print(f"icu-ws log: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader left (icu-ws log --csv - | head): not an error. Point stdout at devnull
        # so the interpreter's final flush does not raise a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0


def _run(args: argparse.Namespace) -> int:
    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until") if args.until else None
    if since and until and since >= until:
        raise UsageError(f"--since {args.since!r} is not before --until {args.until!r}")
    if args.limit is not None and args.limit < 0:
        raise UsageError(f"--limit {args.limit}: expected 0 (all) or more")
    limit = args.limit if args.limit is not None else (None if args.csv else TABLE_LIMIT)
    path = db_path(args)
    if not path.is_file():
        raise UsageError(f"no event log at {path} (file not found; give --db PATH or set "
                         f"${ENV_VAR}; the demo writes {DEMO_PATH} and prints its path)")
    with EventLog(path, read_only=True) as log:
        # Newest first from the database so a limit keeps the most recent events, like tail.
        rows = log.query(since=since, until=until, channel=args.channel,
                         kinds=[EventKind(k) for k in args.kind] if args.kind else None,
                         text=args.grep or None, newest_first=True,
                         limit=None if args.user else (limit or None))
    if args.user:  # the user column, exactly (not a substring of messages)
        rows = [r for r in rows if r.user == args.user][:limit or None]
    if not args.newest_first:
        rows.reverse()
    if args.csv:
        return _export(rows, args.csv)
    if not rows:
        print("no events match", file=sys.stderr)
        return 0
    print_table(rows, sys.stdout)
    if limit and len(rows) == limit:
        print(f"(the {limit} most recent matching events; --limit 0 shows all)", file=sys.stderr)
    return 0


def _export(rows: list[LogRow], target: str) -> int:
    if target == "-":
        EventLog.export_csv(rows, sys.stdout)
        return 0
    try:
        with open(target, "w", newline="", encoding="utf-8") as out:
            count = EventLog.export_csv(rows, out)
    except OSError as exc:
        raise UsageError(f"--csv {target}: cannot write: {exc.strerror or exc}") from exc
    print(f"wrote {count} events to {target}", file=sys.stderr)
    return 0


def print_table(rows: Sequence[LogRow], out: TextIO) -> None:
    """Columns padded to their widest cell; the message last, unpadded and on one line."""
    header = ("TIME (local)", "KIND", "CHANNEL", "USER", "MESSAGE")
    cells = [(r.wall_time.astimezone().replace(tzinfo=None).isoformat(timespec="seconds"),
              kind_text(r), r.channel or "-", r.user or "-",
              r.message.replace("\r", "\\r").replace("\n", "\\n")) for r in rows]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]
    for line in [header, *cells]:
        padded = [c.ljust(w) for c, w in zip(line[:4], widths, strict=True)]
        out.write("  ".join([*padded, line[4]]).rstrip() + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m icu_ws.log ...``: this subcommand alone."""
    parser = argparse.ArgumentParser(prog="icu-ws")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["log", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
