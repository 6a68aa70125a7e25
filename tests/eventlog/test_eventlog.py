"""The event log: round trip, filters, CSV, odd data, bad files, errors, and kill -9 durability."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels.events import Event, EventKind
from dbc.errors import InfusionError
from tests.crashchild import kill_9, read_lines
from workstation.eventlog import CSV_COLUMNS, SCHEMA_VERSION, EventLog, EventLogError, jsonable

HERE = Path(__file__).resolve().parent
T0 = datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)


class Mode(IntEnum):
    RATE = 1
    VTBI = 2


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.fixture
def log(tmp_path: Path) -> Any:
    with EventLog(tmp_path / "events.db") as opened:
        yield opened


def fill(log: EventLog) -> list[int]:
    """Six events a minute apart on channels A and B."""
    events = [Event(EventKind.PROGRAM, "start heparin 2 mL/h", "A", "nurse1", {"rate": 2.0}),
              Event(EventKind.ALARM, "Occlusion downstream", "A", None, {"mmHg": 310}),
              Event(EventKind.ACK, "alarm acknowledged", "A", "nurse1"),
              Event(EventKind.PROGRAM, "start propofol 10 mL/h", "B", "nurse2"),
              Event(EventKind.SYSTEM, "supervisor started 100%"),
              Event(EventKind.OVERRIDE, "soft limit overridden", "B", "dr_x", {"drug": "Propofol"})]
    return [log.record(e, wall_time=T0 + timedelta(minutes=i), monotonic=100.0 + i)
            for i, e in enumerate(events)]


def test_round_trip_all_fields(log: EventLog) -> None:
    data = {"rate_ml_h": 2.5, "vtbi": None, "ok": True, "n": 3, "drug": "Héparine"}
    event = Event(EventKind.PROGRAM, "line 1\nline 2", channel="A", user="nurse1", data=data)
    row_id = log.record(event, wall_time=T0, monotonic=12.5)
    (row,) = log.query()
    assert (row.id, row.wall_time, row.monotonic) == (row_id, T0, 12.5)
    assert (row.kind, row.channel, row.user, row.message) == (
        EventKind.PROGRAM, "A", "nurse1", "line 1\nline 2")
    assert row.data == data
    assert row.wall_time.tzinfo is not None
    assert log.stats.writes == 1 and log.stats.errors == 0
    log.record(Event("alarm", "kind as text"))  # type: ignore[arg-type]
    assert log.query()[-1].kind is EventKind.ALARM


def test_defaults_now_utc_and_empty_data(log: EventLog) -> None:
    before = datetime.now(UTC)
    log.record(Event(EventKind.SYSTEM, "boot"))
    (row,) = log.query()
    slack = timedelta(seconds=1)
    assert before - slack <= row.wall_time <= datetime.now(UTC) + slack
    assert row.wall_time.utcoffset() == timedelta(0)
    assert (row.channel, row.user, row.data) == (None, None, {})
    assert log.last_id() == row.id


def test_stored_as_iso_utc_with_microseconds(tmp_path: Path) -> None:
    with EventLog(tmp_path / "e.db") as log:
        log.record(Event(EventKind.USER, "login"),
                   wall_time=datetime(2024, 5, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris")))
    conn = sqlite3.connect(tmp_path / "e.db")
    assert conn.execute("SELECT wall_time FROM events").fetchone()[0] == (
        "2024-05-01T10:00:00.000000+00:00")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"events_wall_time", "events_channel"} <= indexes
    conn.close()


def test_filters(log: EventLog) -> None:
    ids = fill(log)
    assert [r.id for r in log.query()] == ids
    assert [r.id for r in log.query(channel="A")] == ids[:3]
    assert [r.id for r in log.query(kinds={EventKind.PROGRAM})] == [ids[0], ids[3]]
    assert [r.id for r in log.query(kinds=[EventKind.ALARM, EventKind.ACK])] == ids[1:3]
    assert log.query(kinds=[]) == []
    # since inclusive, until exclusive
    assert [r.id for r in log.query(since=T0 + timedelta(minutes=2))] == ids[2:]
    assert [r.id for r in log.query(until=T0 + timedelta(minutes=2))] == ids[:2]
    window = log.query(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert [r.id for r in window] == ids[1:3]
    assert [r.id for r in log.query(text="OCCLUSION")] == [ids[1]]
    assert [r.id for r in log.query(text="propofol")] == [ids[3], ids[5]]  # message or data
    assert [r.id for r in log.query(text="100%")] == [ids[4]]  # % is literal
    assert log.query(text="1_0%") == []
    assert [r.id for r in log.query(limit=2)] == ids[:2]
    assert [r.id for r in log.query(newest_first=True)] == ids[::-1]
    assert [r.id for r in log.query(newest_first=True, limit=2)] == ids[:-3:-1]
    assert log.query(limit=0) == []
    both = log.query(channel="B", kinds=[EventKind.OVERRIDE], text="soft")
    assert [r.id for r in both] == [ids[5]]
    paris = T0.astimezone(ZoneInfo("Europe/Paris"))
    assert [r.id for r in log.query(since=paris + timedelta(minutes=4))] == ids[4:]
    with pytest.raises(ValueError):
        log.query(limit=-1)


def test_export_csv_parses_back(log: EventLog) -> None:
    fill(log)
    rows = log.query()
    out = io.StringIO(newline="")
    assert EventLog.export_csv(rows, out) == len(rows)
    parsed = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert len(parsed) == len(rows) + 1
    first = dict(zip(CSV_COLUMNS, parsed[1], strict=True))
    assert first["id"] == str(rows[0].id)
    assert datetime.fromisoformat(first["wall_time"]) == T0
    assert float(first["monotonic"]) == 100.0
    assert (first["kind"], first["channel"], first["user"]) == ("program", "A", "nurse1")
    assert first["message"] == "start heparin 2 mL/h"
    assert json.loads(first["data"]) == {"rate": 2.0}
    system = dict(zip(CSV_COLUMNS, parsed[5], strict=True))
    assert (system["channel"], system["user"], system["data"]) == ("", "", "{}")
    assert EventLog.export_csv([], io.StringIO()) == 0


def test_odd_data_values_are_converted(log: EventLog) -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(100):
        node["next"] = node = {}
    data: dict[str, object] = {
        "mode": Mode.VTBI, "kind": EventKind.ALARM, "keys": {Mode.RATE: 1, 2: "two"},
        "when": T0, "dose": Decimal("1.50"), "path": Path("/x/y"), "tags": {"a"},
        "pair": (1, 2.5), "nan": math.nan, "inf": -math.inf, "bad": Unprintable(),
        "deep": deep, "raw": b"\x01",
    }
    log.record(Event(EventKind.STATE, "odd", data=data))
    (row,) = log.query()
    got = row.data
    assert got["mode"] == "VTBI" and got["kind"] == "ALARM"
    assert got["keys"] == {"RATE": 1, "2": "two"}
    assert got["when"] == T0.isoformat()
    assert got["dose"] == "1.50" and got["path"] == "/x/y"
    assert got["tags"] == ["a"] and got["pair"] == [1, 2.5]
    assert math.isnan(float(str(got["nan"]))) and got["inf"] == -math.inf
    assert got["bad"] == "<unprintable Unprintable>"
    assert got["raw"] == "b'\\x01'"
    assert isinstance(got["deep"], dict)
    assert jsonable({"x": [Mode.RATE]}) == {"x": ["RATE"]}


def test_reopen_appends_and_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "events.db"
    with EventLog(path) as log:
        first = fill(log)
    with EventLog(str(path), synchronous="NORMAL") as log:
        assert log.last_id() == first[-1]
        new = log.record(Event(EventKind.SYSTEM, "restart"))
        assert new > first[-1]
        assert len(log.query()) == len(first) + 1
        log.open()  # opening or closing twice is harmless
    log.close()
    with pytest.raises(ValueError):
        EventLog(path, synchronous="OFF")  # type: ignore[arg-type]


def test_not_a_database_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    content = b"these are not the events you are looking for\n" * 100
    path.write_bytes(content)
    for read_only in (False, True):
        with pytest.raises(EventLogError, match=re.escape(str(path))) as info:
            EventLog(path, read_only=read_only).open()
        assert isinstance(info.value, InfusionError)
    assert path.read_bytes() == content  # left untouched


def test_foreign_sqlite_database_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE patients (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(EventLogError, match=r"other\.db.*not an event log"):
        EventLog(path).open()


def test_newer_schema_rejected(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with EventLog(path) as log:
        log.record(Event(EventKind.SYSTEM, "x"))
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for read_only in (False, True):
        with pytest.raises(EventLogError, match=r"future\.db.*newer"):
            EventLog(path, read_only=read_only).open()


def test_record_when_closed_or_read_only_raises(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.db")
    with pytest.raises(EventLogError, match="not open"):
        log.record(Event(EventKind.SYSTEM, "lost"))
    assert log.stats.errors == 1
    with pytest.raises(EventLogError, match="not open"):
        log.query()
    log.open()
    log.close()
    with EventLog(tmp_path / "e.db", read_only=True) as reader, \
            pytest.raises(EventLogError, match="read-only"):
        reader.record(Event(EventKind.SYSTEM, "lost"))


def test_read_only_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EventLogError, match=re.escape(str(tmp_path / "missing.db"))):
        EventLog(tmp_path / "missing.db", read_only=True).open()
    assert not (tmp_path / "missing.db").exists()


def test_locked_database_raises_after_retries(log: EventLog) -> None:
    other = sqlite3.connect(log.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        with pytest.raises(EventLogError, match=r"events\.db.*locked"):
            log.record(Event(EventKind.ALARM, "while locked"))
        assert log.stats.errors == 1 and log.stats.writes == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    log.record(Event(EventKind.ALARM, "after unlock"))
    assert [r.message for r in log.query()] == ["after unlock"]


def test_disk_full_raises_with_cause(log: EventLog) -> None:
    conn = log._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # a full disk, as SQLite sees it
    with pytest.raises(EventLogError, match=r"events\.db.*full") as info:
        log.record(Event(EventKind.PROGRAM, "big", data={"blob": "x" * 200_000}))
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert log.stats.errors == 1


class FlakyConnection:
    """Fails the first ``failures`` INSERTs like a briefly locked database."""

    def __init__(self, conn: sqlite3.Connection, failures: int) -> None:
        self.conn, self.failures = conn, failures

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if sql.startswith("INSERT") and self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def test_transient_error_is_retried(log: EventLog) -> None:
    assert log._conn is not None
    log._conn = FlakyConnection(log._conn, failures=2)  # type: ignore[assignment]
    row_id = log.record(Event(EventKind.COMMAND, "start"))
    assert [r.id for r in log.query()] == [row_id]
    assert (log.stats.writes, log.stats.retries, log.stats.errors) == (1, 2, 0)


def test_concurrent_reader_while_writer_open(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with EventLog(path) as writer:
        fill(writer)
        with EventLog(path, read_only=True) as reader:
            assert len(reader.query(channel="A")) == 3
            writer.record(Event(EventKind.ALARM, "new alarm", "C"))
            assert [r.message for r in reader.query(channel="C")] == ["new alarm"]
            assert reader.last_id() == writer.last_id()


def test_threads_share_one_writer(log: EventLog) -> None:
    ids: list[int] = []

    def work(n: int) -> None:
        for i in range(25):
            ids.append(log.record(Event(EventKind.BUS, f"t{n} {i}")))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids) == [r.id for r in log.query()] and len(set(ids)) == 100


def test_kill_9_loses_no_committed_event(tmp_path: Path) -> None:
    path = tmp_path / "crash" / "events.db"
    proc = subprocess.Popen([sys.executable, str(HERE / "crash_writer.py"), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        buf = read_lines(proc, 200)
        with EventLog(path, read_only=True) as reader:  # another process, while it writes
            assert reader.last_id() >= 200
    finally:
        rest = kill_9(proc)
    printed = (buf + rest).decode().split("\n")[:-1]  # the last piece may be a torn line
    assert len(printed) >= 200
    expected = {int(rid): f"event {i}" for rid, i in (line.split() for line in printed)}
    with EventLog(path, read_only=True) as reader:
        stored = {r.id: r for r in reader.query()}
    missing = sorted(set(expected) - set(stored))
    assert not missing, f"{len(missing)} committed events lost, first ids {missing[:5]}"
    for rid, message in expected.items():
        assert stored[rid].message == message
        assert stored[rid].data["i"] == int(message.split()[1])
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with EventLog(path) as log:  # and the writer can carry on after the crash
        assert log.record(Event(EventKind.SYSTEM, "restarted")) > max(expected)
