"""``icu-ws``: one console command, a subcommand per job; each lives with its own package."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dbc.errors import InfusionError
from icu_ws import log, monitor, pump, record, run, user

DESCRIPTION = """\
ICU infusion workstation: supervises infusion pump modules on a CAN bus and publishes
their telemetry to central monitors over MQTT.

Subcommands:
  demo          run the workstation with simulated pump modules (nothing to configure)
  run           supervise the pump modules of a configured CAN bus
  check-config  check workstation configs and drug libraries
  log           query the event log and export it as CSV
  user          add, list or remove the users who unlock the workstation
  record        record every frame on a CAN bus to a log file (.blf, .asc, .log, .csv)
  replay        send a recorded log onto a CAN bus with its original timing
  decode        decode a recorded log with the DBC through the strict codec
  pump          run simulated pump modules (volumetric or syringe) on a CAN bus
  monitor       central monitor: every workstation's channels and alarms from the MQTT broker
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="icu-ws", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output on stderr (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run.add_parsers(sub)
    log.add_parser(sub)
    user.add_parser(sub)
    record.add_parsers(sub)
    pump.add_parser(sub)
    monitor.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result: int = args.handler(args)
    except InfusionError as exc:
        print(f"icu-ws {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
