"""The telemetry outbox's order and sequence: rising seqs, oldest first, cumulative delivery,
seqs kept across reopening, and what put() refuses without using up a seq."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.telemetry.outbox_support import TOPIC, body, seqs
from workstation.telemetry.outbox import Outbox, OutboxError, OutboxMessage


def test_put_hands_out_rising_seqs_and_pending_is_oldest_first(box: Outbox) -> None:
    assert (box.last_seq, len(box), box.dropped_total, box.pending()) == (0, 0, 0, [])
    seen: list[int] = []

    def build(seq: int) -> bytes:
        seen.append(seq)
        return b"\x00\xff" + body(seq)  # any bytes, not only UTF-8

    first = box.put(TOPIC, build, retain=True, now=1000.5)
    assert first.message == OutboxMessage(1, TOPIC, b"\x00\xff" + body(1), True, 1000.5)
    assert first.dropped == 0
    for n in range(2, 6):
        assert box.put(f"{TOPIC}/{n}", body, now=1000.5 + n).message.seq == n
    assert seen == [1]
    pending = box.pending()
    assert [m.seq for m in pending] == [1, 2, 3, 4, 5]
    assert pending[0] == first.message
    assert pending[3] == OutboxMessage(4, f"{TOPIC}/4", body(4), False, 1004.5)
    assert (box.last_seq, len(box)) == (5, 5)
    assert box  # an empty or full outbox is truthy all the same


def test_created_at_defaults_to_wall_clock(box: Outbox) -> None:
    before = time.time()
    created = box.put(TOPIC, body).message.created_at
    assert before <= created <= time.time()
    assert box.pending()[0].created_at == created


def test_pending_after_and_limit(box: Outbox) -> None:
    for _ in range(10):
        box.put(TOPIC, body)
    assert [m.seq for m in box.pending(3, after=4)] == [5, 6, 7]
    assert [m.seq for m in box.pending(after=8)] == [9, 10]
    assert box.pending(after=10) == []
    assert box.pending(0) == []
    assert [m.seq for m in box.pending(2)] == [1, 2]
    assert [m.payload for m in box.pending(2, after=-5)] == [body(1), body(2)]
    with pytest.raises(ValueError, match="limit"):
        box.pending(-1)


def test_oldest_created_at(box: Outbox) -> None:
    assert box.oldest_created_at() is None
    box.put(TOPIC, body, now=100.0)
    box.put(TOPIC, body, now=50.0)  # the wall clock was set back: still by seq
    assert box.oldest_created_at() == 100.0
    box.delivered(1)
    assert box.oldest_created_at() == 50.0


def test_delivered_is_cumulative(box: Outbox) -> None:
    for _ in range(6):
        box.put(TOPIC, body)
    assert box.delivered(2) == 2
    assert seqs(box) == [3, 4, 5, 6] and len(box) == 4
    assert box.delivered(2) == 0  # acknowledged twice
    assert box.delivered(1) == 0
    assert box.delivered(0) == 0
    assert box.delivered(4) == 2
    assert seqs(box) == [5, 6] and len(box) == 2
    assert box.delivered(100) == 2
    assert (seqs(box), len(box), box.last_seq) == ([], 0, 6)


def test_seq_survives_reopen_after_everything_was_delivered(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "outbox.db"
    with Outbox(path, max_messages=10) as box:
        for _ in range(3):
            box.put(TOPIC, body)
        assert box.delivered(3) == 3
        assert (len(box), box.pending()) == (0, [])
    assert path.is_file()  # folders created
    with Outbox(str(path), max_messages=10) as box:
        assert (box.last_seq, len(box), box.oldest_created_at()) == (3, 0, None)
        assert box.put(TOPIC, body).message.seq == 4
        box.delivered(4)
    with Outbox(path, max_messages=10) as box:
        assert box.last_seq == 4
        assert box.put(TOPIC, body).message == box.pending()[0]
        assert seqs(box) == [5]


def test_open_and_close_are_idempotent(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=5)
    assert box.path == tmp_path / "o.db"
    box.open()
    box.put(TOPIC, body)
    box.open()
    assert len(box) == 1 and seqs(box) == [1]
    box.close()
    box.close()
    with box:
        assert seqs(box) == [1]


def test_use_when_not_open_raises(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=5)
    for call in (lambda: box.put(TOPIC, body), box.pending, lambda: box.delivered(1),
                 box.oldest_created_at):
        with pytest.raises(OutboxError, match=re.escape(str(box.path)) + ".*not open"):
            call()
    with box:
        box.put(TOPIC, body)
    with pytest.raises(OutboxError, match="not open"):
        box.put(TOPIC, body)
    with Outbox(box.path, max_messages=5) as again:
        assert seqs(again) == [1]  # the refused puts stored nothing


class Boom(Exception):
    pass


def test_payload_for_raising_stores_nothing_and_keeps_the_seq(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    boom = Boom("payload model rejected the event")
    with Outbox(path, max_messages=10) as box:
        box.put(TOPIC, body)

        def bad(seq: int) -> bytes:
            assert seq == 2
            raise boom

        with pytest.raises(Boom) as info:
            box.put(TOPIC, bad)
        assert info.value is boom  # unchanged, not wrapped
        assert (box.last_seq, len(box), seqs(box)) == (1, 1, [1])
        with pytest.raises(TypeError, match="bytes"):
            box.put(TOPIC, lambda seq: f"seq {seq}")  # type: ignore[arg-type,return-value]
        assert box.put(TOPIC, body).message.seq == 2
    with Outbox(path, max_messages=10) as box:
        assert (box.last_seq, seqs(box)) == (2, [1, 2])
        assert [m.payload for m in box.pending()] == [body(1), body(2)]


def test_put_from_inside_payload_for_is_refused(box: Outbox) -> None:
    def nested(seq: int) -> bytes:
        box.put(TOPIC, body)  # would hand out the same seq twice
        return body(seq)

    with pytest.raises(RuntimeError, match="inside payload_for"):
        box.put(TOPIC, nested)
    assert (box.last_seq, len(box)) == (0, 0)
    assert box.put(TOPIC, body).message.seq == 1


@pytest.mark.parametrize("topic", ["", "icu/+/bed/events", "icu/#", "a\0b", "x" * 65_536])
def test_topic_a_broker_refuses_is_not_stored(box: Outbox, topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        box.put(topic, body)
    assert (box.last_seq, len(box)) == (0, 0)
