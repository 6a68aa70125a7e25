"""The telemetry outbox: every event and alarm message waits here until the broker has it.

aiomqtt keeps no outgoing buffer, so :meth:`Outbox.put` stores each message in SQLite before
anything is sent; the publisher reads :meth:`Outbox.pending` oldest first, publishes at QoS 1
and calls :meth:`Outbox.delivered` once the broker acknowledged. Messages survive a broker
outage and a crash, ``kill -9`` or restart of the workstation (WAL, one commit per put,
``synchronous=NORMAL``). Power loss, unlike a crash, may undo the last few commits: those
messages are lost and their seqs are handed out again.

Delivery is at least once: a crash between the broker's acknowledgement and ``delivered()``
sends the message again after the restart, so consumers de-duplicate on the payload's message
id. Order is ``seq``: it rises by one per message, is handed to the payload builder (the
payload carries it) and is never reused, even once every message was delivered and deleted, so
a consumer can tell a gap (messages dropped to keep the bound) from a duplicate.

One process owns the file: it is opened with ``locking_mode=EXCLUSIVE``, so a second
workstation pointed at the same outbox fails to open it instead of reusing sequence numbers.
That is also why the count and the last ``seq`` can live in memory. Not thread-safe: one
asyncio loop owns an outbox. Every SQLite failure is raised as :class:`OutboxError`, which
names the file, what failed and what to do.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dbc.errors import InfusionError
from workstation.sqlite_store import (
    StoreFile,
    StoreFormat,
    create_schema,
    open_store,
    write_transaction,
)

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4943554F  # "ICUO": tells an outbox from any other SQLite file (event log: ICUW)
BUSY_TIMEOUT_MS = 50  # the lock is ours while open: waiting longer only stalls the event loop
MAX_TOPIC_BYTES = 65_535  # MQTT's limit

_SCHEMA = (
    "CREATE TABLE messages (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL,"
    " payload BLOB NOT NULL, retain INTEGER NOT NULL, created_at REAL NOT NULL)",
    # One row: the last seq handed out (rows may all be deleted) and the messages dropped.
    "CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL,"
    " dropped_total INTEGER NOT NULL)",
    "INSERT INTO state (id, last_seq, dropped_total) VALUES (1, 0, 0)",
)
_COLUMNS = "seq, topic, payload, retain, created_at"

_ELSEWHERE = "or point telemetry.outbox elsewhere"
_ADVICE = (  # SQLite error name prefix -> what to do
    ("SQLITE_CORRUPT", f"the file is damaged: move it away (its undelivered messages are lost) "
                       f"{_ELSEWHERE}"),
    ("SQLITE_BUSY", f"in use by another process: is another icu-ws running with this outbox? "
                    f"Stop it {_ELSEWHERE}"),
    ("SQLITE_LOCKED", "locked: is another icu-ws running with this outbox?"),
    ("SQLITE_FULL", f"disk full: free space {_ELSEWHERE}"),
    ("SQLITE_READONLY", f"read-only: make the file and its folder writable {_ELSEWHERE}"),
    ("SQLITE_CANTOPEN", f"check the path is a file in a writable folder {_ELSEWHERE}"),
    ("SQLITE_IOERR", f"check the disk (dmesg) and free space {_ELSEWHERE}"),
)


class OutboxError(InfusionError):
    """The outbox cannot be opened, read or written. Names the file, the failure and the fix."""


FORMAT = StoreFormat(noun="outbox", application_id=APPLICATION_ID, schema_version=SCHEMA_VERSION,
                     schema=_SCHEMA, error_type=OutboxError, without_wal="puts are slower",
                     min_version=SCHEMA_VERSION, elsewhere=_ELSEWHERE, advice=_ADVICE,
                     default_advice="point telemetry.outbox elsewhere if it persists")


@dataclass(frozen=True)
class OutboxMessage:
    seq: int  # rises by 1 per message, never reused, survives restarts and deletions
    topic: str
    payload: bytes
    retain: bool
    created_at: float  # time.time() when put


@dataclass(frozen=True)
class PutResult:
    message: OutboxMessage
    dropped: int  # oldest undelivered messages deleted to keep the bound (0 normally)


def check_topic(topic: str) -> None:
    """Raise ValueError for a topic no broker accepts: it would block the outbox's head."""
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"outbox topic must be a non-empty str, not {topic!r}")
    if "+" in topic or "#" in topic or "\0" in topic:
        raise ValueError(f"outbox topic {topic!r}: no wildcards ('+', '#') or NUL in a publish")
    if len(topic.encode("utf-8", "surrogatepass")) > MAX_TOPIC_BYTES:
        raise ValueError(f"outbox topic longer than {MAX_TOPIC_BYTES} bytes")


class Outbox(StoreFile):
    """The outbox file. Use as a context manager, or call :meth:`open` and :meth:`close`.

    At most ``max_messages`` undelivered messages are kept: beyond that, :meth:`put` deletes
    the oldest and counts them in :attr:`dropped_total`.
    """

    def __init__(self, path: Path | str, *, max_messages: int) -> None:
        if isinstance(max_messages, bool) or not isinstance(max_messages, int) \
                or max_messages < 1:
            raise ValueError(f"max_messages must be an int >= 1, not {max_messages!r}")
        self._path = Path(path)
        self.max_messages = max_messages
        self._conn: sqlite3.Connection | None = None
        self._count = 0  # undelivered messages, as of the last commit
        self._last_seq = 0
        self._dropped_total = 0
        self._building = False  # inside payload_for: a nested put() would reuse the seq

    @property
    def path(self) -> Path:
        return self._path

    @property
    def last_seq(self) -> int:
        """The last seq handed out; 0 when never used. Read from the file on :meth:`open`."""
        return self._last_seq

    @property
    def dropped_total(self) -> int:
        """Messages ever dropped to keep the bound, across restarts."""
        return self._dropped_total

    def __len__(self) -> int:
        """Undelivered messages (from memory: no I/O)."""
        return self._count

    def __bool__(self) -> bool:  # an empty outbox is still an outbox: `if outbox:` means "set"
        return True

    def open(self) -> None:
        """Open, creating the file and its folders when missing. Opening twice is a no-op."""
        if self._conn is None:
            self._conn = open_store(self._path, FORMAT, busy_timeout_ms=BUSY_TIMEOUT_MS,
                                    exclusive=True, prepare=self._prepare)

    def _prepare(self, conn: sqlite3.Connection, new: bool) -> None:
        """Lock the file (exclusive mode), create the schema if new, read the state."""
        with write_transaction(conn):  # takes the exclusive lock now, not at the first put
            if new:
                create_schema(conn, FORMAT)
            state = conn.execute("SELECT last_seq, dropped_total FROM state").fetchone()
            count, max_seq = conn.execute("SELECT count(*), coalesce(max(seq), 0)"
                                          " FROM messages").fetchone()
        if state is None:
            raise OutboxError(f"{self._path}: outbox state row missing: the file is damaged: "
                              f"move it away {_ELSEWHERE}")
        self._last_seq = max(int(state[0]), int(max_seq))
        self._dropped_total = int(state[1])
        self._count = int(count)

    def close(self) -> None:
        """Close (checkpointing the WAL into the file). Closing twice is a no-op."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise self._error("cannot close", exc) from exc

    def put(self, topic: str, payload_for: Callable[[int], bytes], *, retain: bool = False,
            now: float | None = None) -> PutResult:
        """Store one message under the next seq; it is committed when this returns.

        ``payload_for(seq)`` builds the payload, which embeds ``seq``. If it raises, nothing is
        stored, the seq is not consumed and its exception propagates unchanged. Beyond
        ``max_messages`` undelivered messages the oldest are deleted (``PutResult.dropped``).
        """
        check_topic(topic)
        self._require("put")
        if self._building:
            raise RuntimeError("Outbox.put() called from inside payload_for")
        # The payload is built before BEGIN: the exclusive lock means no one else can take this
        # seq, a builder that raises leaves nothing to undo, and the write lock is held briefly.
        seq = self._last_seq + 1
        self._building = True
        try:
            payload = payload_for(seq)
        finally:
            self._building = False
        if not isinstance(payload, bytes):
            raise TypeError(f"payload_for must return bytes, not {type(payload).__name__}")
        message = OutboxMessage(seq, topic, payload, bool(retain),
                                time.time() if now is None else float(now))
        conn = self._require("put")  # payload_for may have closed it
        excess = max(0, self._count + 1 - self.max_messages)
        dropped = 0
        try:
            with write_transaction(conn):
                conn.execute(f"INSERT INTO messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                             (seq, topic, payload, int(message.retain), message.created_at))
                if excess:
                    dropped = conn.execute("DELETE FROM messages WHERE seq IN (SELECT seq FROM"
                                           " messages ORDER BY seq LIMIT ?)",
                                           (excess,)).rowcount
                conn.execute("UPDATE state SET last_seq = ?, dropped_total = dropped_total + ?",
                             (seq, dropped))
        except sqlite3.Error as exc:
            raise self._error(f"cannot store message {seq} for {topic!r}", exc) from exc
        self._last_seq = seq
        self._count += 1 - dropped
        self._dropped_total += dropped  # no log line here: a full outbox drops on every put
        return PutResult(message, dropped)

    def pending(self, limit: int = 100, *, after: int = 0) -> list[OutboxMessage]:
        """Up to ``limit`` undelivered messages with ``seq > after``, oldest first."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        conn = self._require("read")
        try:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM messages WHERE seq > ? ORDER BY seq"
                                " LIMIT ?", (after, limit)).fetchall()
        except sqlite3.Error as exc:
            raise self._error("cannot read pending messages", exc) from exc
        return [OutboxMessage(int(seq), str(topic), bytes(payload), bool(retain),
                              float(created)) for seq, topic, payload, retain, created in rows]

    def delivered(self, seq: int) -> int:
        """Delete every message with seq <= ``seq`` (the broker has them); return how many."""
        conn = self._require("delete delivered messages")
        try:  # autocommit: one statement, one transaction
            deleted = conn.execute("DELETE FROM messages WHERE seq <= ?", (seq,)).rowcount
        except sqlite3.Error as exc:
            raise self._error(f"cannot delete delivered messages up to {seq}", exc) from exc
        self._count -= deleted
        return int(deleted)

    def oldest_created_at(self) -> float | None:
        """``created_at`` of the oldest undelivered message; None when there is none."""
        conn = self._require("read")
        try:
            row = conn.execute("SELECT created_at FROM messages ORDER BY seq LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise self._error("cannot read the oldest message", exc) from exc
        return None if row is None else float(row[0])

    def _require(self, what: str) -> sqlite3.Connection:
        if self._conn is None:
            raise OutboxError(f"{self._path}: cannot {what}: outbox not open (call open() first)")
        return self._conn

    def _error(self, what: str, exc: sqlite3.Error) -> OutboxError:
        return FORMAT.sqlite_error(self._path, what, exc)
