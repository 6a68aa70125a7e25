"""The workstation's event log: every program, confirmation, alarm and command, durably, in order.

SQLite in WAL mode, one committed transaction per event: when :meth:`EventLog.record` returns,
the row survives ``kill -9`` and, with ``synchronous="FULL"`` (the default), power loss. One
writer (the supervisor) and read-only readers in other processes (``icu-ws log``) share the file.
``wall_time`` is stored as fixed-width ISO-8601 UTC, so it sorts as text; naive datetimes given
here are local time, as in :meth:`datetime.astimezone`. Rows come in ``id`` (insertion) order,
not wall-time order, which jumps when the clock is set.
"""

from __future__ import annotations

import csv
import enum
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from channels.events import Event, EventKind, LogRow
from dbc.errors import InfusionError
from workstation.sqlite_store import (
    StoreFile,
    StoreFormat,
    create_schema,
    open_store,
    write_transaction,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
APPLICATION_ID = 0x49435557  # "ICUW": tells our file from any other SQLite database
ENV_VAR = "ICU_WS_EVENT_LOG"
DEFAULT_PATH = Path("var") / "events.db"
CSV_COLUMNS = ("id", "wall_time", "monotonic", "kind", "channel", "user", "message", "data")

# record(): 3 tries, each waiting at most BUSY_TIMEOUT_MS for a lock, with these sleeps between
# them: about 100 ms in all, short enough for the supervisor's event loop to raise an alarm.
RETRY_SLEEPS_S = (0.01, 0.03)
BUSY_TIMEOUT_MS = 20
READER_BUSY_TIMEOUT_MS = 1000
MAX_DATA_DEPTH = 32  # deeper (or cyclic) data is stored as str() rather than recursing forever

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, wall_time TEXT NOT NULL,"
    " monotonic REAL NOT NULL, kind TEXT NOT NULL, channel TEXT, user TEXT,"
    " message TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_wall_time ON events(wall_time)",
    "CREATE INDEX IF NOT EXISTS events_channel ON events(channel)",
)


class EventLogError(InfusionError):
    """The event log cannot be opened, read or written. The message names the file."""


FORMAT = StoreFormat(noun="event log", application_id=APPLICATION_ID,
                     schema_version=SCHEMA_VERSION, schema=_SCHEMA, error_type=EventLogError,
                     without_wal="readers block the writer")


def _create_if_new(conn: sqlite3.Connection, new: bool) -> None:
    if new:  # IF NOT EXISTS: another writer may have created it since we looked
        with write_transaction(conn):
            create_schema(conn, FORMAT)
    # An older schema version would need a migration here; version 1 is the first.


@dataclass
class LogStats:
    writes: int = 0  # events committed
    errors: int = 0  # record() calls that raised: events NOT in the log
    retries: int = 0  # failed tries that a later try recovered


def default_path() -> Path:
    """``$ICU_WS_EVENT_LOG``, else ``var/events.db`` under the current directory."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def jsonable(value: object, depth: int = 0) -> object:
    """``value`` as plain JSON types: enums by name, datetimes ISO-8601, anything else str()."""
    if isinstance(value, enum.Enum):  # before int/str: IntEnum/StrEnum would pass as values
        return value.name
    if value is None or isinstance(value, bool | int | float | str):
        return value  # floats as they are, NaN and infinities included
    if depth >= MAX_DATA_DEPTH:
        return _safe_str(value)
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return _safe_str(value)


def _key(key: object) -> str:
    return key.name if isinstance(key, enum.Enum) else key if isinstance(key, str) else str(key)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not cost us the event
        return f"<unprintable {type(value).__name__}>"


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # readable, greppable


class EventLog(StoreFile):
    """The event log file. Use as a context manager, or call :meth:`open` and :meth:`close`.

    ``read_only=True`` opens an existing log for queries only (``mode=ro``), as a reader in
    another process does while the workstation writes.
    """

    def __init__(self, path: Path | str, *, synchronous: Literal["FULL", "NORMAL"] = "FULL",
                 read_only: bool = False) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        self.read_only = read_only
        self.stats = LogStats()
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, shared by the writer and its queries

    def open(self) -> None:
        """Open (creating the file and its folders unless read-only). Opening twice is a no-op."""
        with self._lock:
            if self._conn is not None:
                return
            timeout = READER_BUSY_TIMEOUT_MS if self.read_only else BUSY_TIMEOUT_MS
            self._conn = open_store(self.path, FORMAT, busy_timeout_ms=timeout,
                                    synchronous=self.synchronous, read_only=self.read_only,
                                    any_thread=True, prepare=_create_if_new)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    def record(self, event: Event, *, wall_time: datetime | None = None,
               monotonic: float | None = None) -> int:
        """Append ``event``; return its row id. The row is committed when this returns.

        On a SQLite error (disk full, database locked) it retries for about 100 ms, then raises
        :class:`EventLogError` naming the file and the cause: the caller must raise an alarm.
        """
        kind = EventKind(event.kind)  # a plain "alarm" string is accepted as well
        row = (_utc_text(wall_time or datetime.now(UTC)),
               time.monotonic() if monotonic is None else float(monotonic), kind.value,
               event.channel, event.user, event.message, _json(jsonable(event.data)))
        with self._lock:
            if self._conn is None or self.read_only:
                self.stats.errors += 1
                why = "opened read-only" if self.read_only else "not open"
                raise EventLogError(f"{self.path}: cannot record {kind.value} event: log {why}")
            failure: sqlite3.Error | None = None
            for attempt in range(len(RETRY_SLEEPS_S) + 1):
                if attempt:
                    time.sleep(RETRY_SLEEPS_S[attempt - 1])
                try:
                    cursor = self._conn.execute(
                        "INSERT INTO events (wall_time, monotonic, kind, channel, user, message,"
                        " data) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
                except sqlite3.Error as exc:  # autocommit: the failed INSERT left nothing behind
                    failure = exc
                    continue
                self.stats.writes += 1
                self.stats.retries += attempt
                return int(cursor.lastrowid or 0)
            self.stats.errors += 1
            assert failure is not None
            raise self._error(f"cannot record {kind.value} event {event.message[:80]!r}", failure,
                              tries=len(RETRY_SLEEPS_S) + 1) from failure

    def _error(self, what: str, exc: BaseException, tries: int = 1) -> EventLogError:
        return FORMAT.sqlite_error(self.path, what, exc, tries=tries)

    def query(self, *, since: datetime | None = None, until: datetime | None = None,
              channel: str | None = None, kinds: Collection[EventKind] | None = None,
              text: str | None = None, limit: int | None = None,
              newest_first: bool = False) -> list[LogRow]:
        """Rows matching every filter given, oldest first (by id) unless ``newest_first``.

        ``since`` is inclusive, ``until`` exclusive. ``text`` matches, case-insensitively, a
        substring of the message or of the data's JSON. ``limit`` keeps the first rows in the
        chosen order (None: all).
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        where: list[str] = []
        params: list[object] = []
        for clause, value in (("wall_time >= ?", since and _utc_text(since)),
                              ("wall_time < ?", until and _utc_text(until)),
                              ("channel = ?", channel)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if kinds is not None:
            values = sorted({EventKind(k).value for k in kinds})
            if not values:
                return []
            where.append(f"kind IN ({', '.join('?' * len(values))})")
            params.extend(values)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(message LIKE ? ESCAPE '\\' OR data LIKE ? ESCAPE '\\')")
            params.extend([pattern + "%", pattern + "%"])
        sql = "SELECT id, wall_time, monotonic, kind, channel, user, message, data FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._fetch(sql, params)
        return [_row(r) for r in rows]

    def last_id(self) -> int:
        """Id of the newest row, 0 for an empty log."""
        return int(self._fetch("SELECT coalesce(max(id), 0) FROM events", [])[0][0])

    def _fetch(self, sql: str, params: list[object]) -> list[Any]:
        with self._lock:
            if self._conn is None:
                raise EventLogError(f"{self.path}: cannot read: log not open")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from exc

    @staticmethod
    def export_csv(rows: Iterable[LogRow], out: TextIO) -> int:
        """Header, then one line per row (UTC, data as JSON); returns the rows. newline="" files."""
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        count = 0
        for r in rows:
            writer.writerow([r.id, _utc_text(r.wall_time), repr(r.monotonic), r.kind.value,
                             r.channel or "", r.user or "", r.message, _json(r.data)])
            count += 1
        return count


def _row(r: Any) -> LogRow:
    rid, wall, mono, kind, channel, user, message, data = r
    parsed = json.loads(data)
    return LogRow(id=rid, wall_time=datetime.fromisoformat(wall).astimezone(UTC),
                  monotonic=mono, kind=EventKind(kind), channel=channel, user=user,
                  message=message, data=parsed if isinstance(parsed, dict) else {"value": parsed})
