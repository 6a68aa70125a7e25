"""Helper for the kill -9 test: record events forever, printing each id once record() returned.

Usage: ``python crash_writer.py DB``. Each stdout line is ``ID I`` for the event whose message
is ``event I``; the test kills this process with SIGKILL and checks every printed id is there.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

from channels.events import Event, EventKind
from workstation.eventlog import EventLog

KINDS = list(EventKind)


def main() -> None:
    with EventLog(sys.argv[1]) as log:
        for i in itertools.count():
            event = Event(KINDS[i % len(KINDS)], f"event {i}", channel="ABCD"[i % 4],
                          user="nurse", data={"i": i, "pad": "x" * (i % 500)})
            row_id = log.record(event)
            print(row_id, i, flush=True)  # only after record() returned: committed


if __name__ == "__main__":
    main()
