"""The telemetry outbox: order, seq persistence, the bound, delivery, bad files, kill -9."""

from __future__ import annotations

import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.errors import InfusionError
from workstation.telemetry.outbox import (
    SCHEMA_VERSION,
    Outbox,
    OutboxError,
    OutboxMessage,
)

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "icu/icu3/bed07/ws1/events"
NOT_OURS = "is not an outbox database: move it away or point telemetry.outbox elsewhere"


def body(seq: int) -> bytes:
    return b'{"seq":%d}' % seq


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", max_messages=1000) as outbox:
        yield outbox


def seqs(outbox: Outbox) -> list[int]:
    return [m.seq for m in outbox.pending(10_000)]


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


def test_file_is_wal_with_synchronous_normal(box: Outbox) -> None:
    conn = box._conn
    assert conn is not None
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


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


def test_oldest_created_at(box: Outbox) -> None:
    assert box.oldest_created_at() is None
    box.put(TOPIC, body, now=100.0)
    box.put(TOPIC, body, now=50.0)  # the wall clock was set back: still by seq
    assert box.oldest_created_at() == 100.0
    box.delivered(1)
    assert box.oldest_created_at() == 50.0


# ---- bad files and failures ---------------------------------------------------------------


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    content = b"these are not the messages you are looking for\n" * 100
    path.write_bytes(content)
    with pytest.raises(OutboxError) as info:
        Outbox(path, max_messages=5).open()
    assert str(info.value).startswith(f"{path} {NOT_OURS}")
    assert isinstance(info.value, InfusionError)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    assert path.read_bytes() == content  # left untouched


def test_foreign_sqlite_database_rejected_untouched(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE patients (name TEXT)")
    conn.commit()
    conn.close()
    content = path.read_bytes()
    with pytest.raises(OutboxError, match=re.escape(f"{path} {NOT_OURS}")):
        Outbox(path, max_messages=5).open()
    assert path.read_bytes() == content and not Path(f"{path}-wal").exists()


def set_user_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def test_unknown_schema_versions_rejected(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, max_messages=5) as box:
        box.put(TOPIC, body)
    set_user_version(path, SCHEMA_VERSION + 1)
    with pytest.raises(OutboxError, match=re.escape(str(path)) + ".*newer.*use a newer icu-ws"):
        Outbox(path, max_messages=5).open()
    set_user_version(path, 0)
    with pytest.raises(OutboxError, match=re.escape(str(path)) + ".*version 0"):
        Outbox(path, max_messages=5).open()
    set_user_version(path, SCHEMA_VERSION)
    with Outbox(path, max_messages=5) as box:  # and the data was left alone
        assert seqs(box) == [1]


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, max_messages=1000) as box:
        for _ in range(200):
            box.put(TOPIC, lambda seq: body(seq) * 20)
    assert not Path(f"{path}-wal").exists()  # checkpointed on close: all in the main file
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[page:] = b"\xa5" * (len(data) - page)  # every page but the header and schema
    path.write_bytes(bytes(data))
    with pytest.raises(OutboxError, match=re.escape(str(path)) + ".*move it away") as info:
        Outbox(path, max_messages=1000).open()
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_folder_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the folder should be\n")
    for path in (blocker / "outbox.db", blocker / "telemetry" / "outbox.db"):
        with pytest.raises(OutboxError, match=re.escape(str(path)) + ".*cannot create"):
            Outbox(path, max_messages=5).open()
    assert blocker.read_text() == "a file where the folder should be\n"


def test_path_is_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.mkdir()
    with pytest.raises(OutboxError, match=re.escape(str(path)) + ".*elsewhere") as info:
        Outbox(path, max_messages=5).open()
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_second_owner_is_refused(box: Outbox) -> None:
    box.put(TOPIC, body)
    other = Outbox(box.path, max_messages=5)
    with pytest.raises(OutboxError, match=re.escape(str(box.path)) + ".*another icu-ws"):
        other.open()
    assert box.put(TOPIC, body).message.seq == 2  # the owner carries on
    box.close()
    with other:
        assert seqs(other) == [1, 2]


def test_disk_full_leaves_everything_as_it_was(box: Outbox) -> None:
    box.put(TOPIC, body)
    conn = box._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # a full disk, as SQLite sees it
    with pytest.raises(OutboxError, match=r"outbox\.db.*full.*free space") as info:
        box.put(TOPIC, lambda seq: b"x" * 100_000)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert (box.last_seq, len(box), seqs(box)) == (1, 1, [1])
    conn.execute("PRAGMA max_page_count = 1000000")
    assert box.put(TOPIC, body).message.seq == 2
    assert seqs(box) == [1, 2]


# ---- kill -9 ----------------------------------------------------------------------------

CHILD = """
import sys
from workstation.telemetry.outbox import Outbox
box = Outbox(sys.argv[1], max_messages=100_000)
box.open()
count = int(sys.argv[2])
i = 0
while count < 0 or i < count:
    seq = box.put(sys.argv[3], lambda seq: b'{"seq":%d,"i":%d}' % (seq, i), retain=i % 7 == 0,
                  now=1000.0 + i).message.seq
    print(seq, i, flush=True)  # only once put() returned: committed
    i += 1
print("done", flush=True)
sys.stdin.read()  # still open, lock held, until killed
"""


def start_child(path: Path, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(count), TOPIC],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def read_until(proc: subprocess.Popen[bytes], lines: int, timeout: float = 60.0) -> bytes:
    """At least ``lines`` complete lines of the child's stdout, without blocking forever."""
    assert proc.stdout is not None
    fd, buf = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while buf.count(b"\n") < lines:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            got = buf.count(b"\n")
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"child gave {got} lines; status {proc.poll()}\n{err}")
        if select.select([fd], [], [], min(left, 1.0))[0]:
            buf += os.read(fd, 65536)
    return buf


def kill_9(proc: subprocess.Popen[bytes]) -> bytes:
    try:
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")
    return rest


def assert_intact(path: Path) -> None:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


def test_kill_9_after_n_puts_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "crash" / "outbox.db"
    with Outbox(path, max_messages=100_000) as box:  # seqs 1..5 used and delivered already
        for _ in range(5):
            box.put(TOPIC, body)
        box.delivered(5)
    n = 300
    proc = start_child(path, n)
    try:
        read_until(proc, n + 1)
        with pytest.raises(OutboxError, match="another icu-ws"):  # the child owns it
            Outbox(path, max_messages=100_000).open()
    finally:
        kill_9(proc)
    assert Path(f"{path}-wal").exists()  # not checkpointed: recovery from the WAL
    with Outbox(path, max_messages=100_000) as box:
        assert (len(box), box.last_seq) == (n, 5 + n)
        pending = box.pending(10_000)
        assert [m.seq for m in pending] == list(range(6, 6 + n))
        for i, m in enumerate(pending):
            assert m == OutboxMessage(6 + i, TOPIC, b'{"seq":%d,"i":%d}' % (6 + i, i),
                                      i % 7 == 0, 1000.0 + i)
        assert box.put(TOPIC, body).message.seq == 6 + n
    assert_intact(path)


def test_kill_9_mid_stream_keeps_every_committed_put(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    proc = start_child(path, -1)  # puts until killed
    try:
        buf = read_until(proc, 500)
    finally:
        buf += kill_9(proc)
    printed = [line.split() for line in buf.decode().split("\n")[:-1]]  # last may be torn
    assert len(printed) >= 500
    assert [int(seq) for seq, _ in printed] == list(range(1, len(printed) + 1))
    with Outbox(path, max_messages=100_000) as box:
        pending = box.pending(100_000)
        stored = [m.seq for m in pending]
        # every put that returned is there; one more may have committed before its print
        assert stored == list(range(1, len(stored) + 1))
        assert len(printed) <= len(stored) <= len(printed) + 1
        assert box.last_seq == len(stored)
        assert all(m.payload == b'{"seq":%d,"i":%d}' % (m.seq, m.seq - 1) for m in pending)
    assert_intact(path)
