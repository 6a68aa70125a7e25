"""The telemetry outbox's durability: a WAL file, and a writer killed with kill -9 loses no put
that returned."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crashchild import kill_9, read_lines
from tests.telemetry.outbox_support import TOPIC, body
from workstation.telemetry.outbox import SCHEMA_VERSION, Outbox, OutboxError, OutboxMessage

ROOT = Path(__file__).resolve().parents[2]


def test_file_is_wal_with_synchronous_normal(box: Outbox) -> None:
    conn = box._conn
    assert conn is not None
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


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
        read_lines(proc, n + 1)
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
        buf = read_lines(proc, 500)
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
