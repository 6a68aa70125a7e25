"""What several outbox test modules share: a topic, a payload builder, the pending seqs.

The ``box`` fixture (an open outbox in tmp_path) is in conftest.py.
"""

from __future__ import annotations

from workstation.telemetry.outbox import Outbox

TOPIC = "icu/icu3/bed07/ws1/events"


def body(seq: int) -> bytes:
    return b'{"seq":%d}' % seq


def seqs(outbox: Outbox) -> list[int]:
    return [m.seq for m in outbox.pending(10_000)]
