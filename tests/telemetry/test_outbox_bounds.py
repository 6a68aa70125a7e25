"""The telemetry outbox's bound: past max_messages the oldest are dropped and counted, and the
count survives reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.telemetry.outbox_support import TOPIC, body, seqs
from workstation.telemetry.outbox import Outbox


def test_bound_drops_oldest_and_counts_them_persistently(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, max_messages=3) as box:
        results = [box.put(TOPIC, body) for _ in range(5)]
        assert [r.dropped for r in results] == [0, 0, 0, 1, 1]
        assert seqs(box) == [3, 4, 5]
        assert (len(box), box.dropped_total) == (3, 2)
        box.delivered(3)
        assert box.put(TOPIC, body).dropped == 0  # room again
        assert (seqs(box), box.dropped_total) == ([4, 5, 6], 2)
    with Outbox(path, max_messages=3) as box:
        assert (box.dropped_total, len(box), box.last_seq) == (2, 3, 6)
    with Outbox(path, max_messages=2) as box:  # a smaller bound: the next put trims to it
        assert box.put(TOPIC, body).dropped == 2
        assert (seqs(box), box.dropped_total) == ([6, 7], 4)
    with Outbox(path, max_messages=2) as box:
        assert (box.dropped_total, len(box)) == (4, 2)
        assert [m.payload for m in box.pending()] == [body(6), body(7)]


def test_max_messages_must_be_a_positive_int(tmp_path: Path) -> None:
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="max_messages"):
            Outbox(tmp_path / "o.db", max_messages=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "o.db").exists()
