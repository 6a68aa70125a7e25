"""The telemetry outbox on bad files and failures: foreign, newer, corrupt or unreachable files
are refused untouched, a second owner is refused, and a full disk changes nothing."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from dbc.errors import InfusionError
from tests.telemetry.outbox_support import TOPIC, body, seqs
from workstation.telemetry.outbox import SCHEMA_VERSION, Outbox, OutboxError

NOT_OURS = "is not an outbox database: move it away or point telemetry.outbox elsewhere"


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
