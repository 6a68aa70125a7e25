"""Opening the workstation's own SQLite files (the event log, the telemetry outbox).

Each file is told from any other SQLite database by its ``application_id`` and carries its
schema version in ``user_version``. :func:`open_store` connects, reads both before writing
anything (so a foreign or newer file is left untouched), sets WAL and ``synchronous`` for a
writer and hands the connection to the store's own set-up. :meth:`StoreFormat.sqlite_error`
turns a SQLite failure into the store's error type, naming the file, what failed and, where
the store gives advice, what to do.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Generic, Literal, Self, TypeVar

from dbc.errors import InfusionError

log = logging.getLogger(__name__)

Synchronous = Literal["FULL", "NORMAL"]
E = TypeVar("E", bound=InfusionError)


@dataclass(frozen=True)
class StoreFormat(Generic[E]):
    """What one kind of store file is, and how its errors are worded."""

    noun: str  # "event log": in every message
    application_id: int  # tells our file from any other SQLite database
    schema_version: int  # written to user_version; newer files are refused
    schema: tuple[str, ...]  # statements that create a new file's tables
    error_type: type[E]  # raised for every failure; the message names the file
    without_wal: str  # what is lost on a file system without WAL, for the warning
    min_version: int = 0  # older files would need a migration this program lacks: refused
    elsewhere: str = ""  # how to use another file, e.g. "or point telemetry.outbox elsewhere"
    advice: tuple[tuple[str, str], ...] = ()  # SQLite error name prefix -> what to do
    default_advice: str = ""  # what to do about an error the table does not name

    @property
    def a_noun(self) -> str:
        return ("an " if self.noun[:1] in "aeiou" else "a ") + self.noun

    def not_ours(self, path: Path, why: str) -> E:
        """The file is no store of this kind (foreign, not SQLite, or of an unknown version)."""
        fix = f": move it away {self.elsewhere}" if self.elsewhere else ""
        return self.error_type(f"{path} is not {self.a_noun} database{fix} ({why})")

    def sqlite_error(self, path: Path, what: str, exc: BaseException, *,
                     tries: int = 1) -> E:
        """``exc`` (a SQLite or OS error) as the store's error: file, what failed, cause, fix."""
        name = error_name(exc)
        if name.startswith("SQLITE_NOTADB"):
            return self.not_ours(path, f"{what}: {exc}")
        after = f" after {tries} tries" if tries > 1 else ""
        message = f"{path}: {what}{after}: {exc} ({name})"
        if self.advice:
            message += ": " + next((a for prefix, a in self.advice if name.startswith(prefix)),
                                   self.default_advice)
        return self.error_type(message)


class StoreFile:
    """A store file: call :meth:`open` and :meth:`close`, or use it as a context manager."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def error_name(exc: BaseException) -> str:
    """SQLite's name for the failure (``SQLITE_BUSY``), else the exception's type name."""
    return getattr(exc, "sqlite_errorname", None) or type(exc).__name__


def open_store(path: Path, fmt: StoreFormat[E], *, busy_timeout_ms: int,
               synchronous: Synchronous = "NORMAL", read_only: bool = False,
               exclusive: bool = False, any_thread: bool = False,
               prepare: Callable[[sqlite3.Connection, bool], None] | None = None,
               ) -> sqlite3.Connection:
    """Connect to ``path`` in autocommit mode and check it is a ``fmt`` file we can read.

    A writer creates the file and its folders, takes WAL and ``synchronous`` and then calls
    ``prepare(conn, new)``, where ``new`` says the file was empty: it creates the schema (see
    :func:`create_schema`) and reads what it needs. ``read_only`` opens an existing file with
    ``mode=ro``; ``exclusive`` keeps the file locked from the first write until close;
    ``any_thread`` lets other threads use the connection (the caller then serialises).
    Every failure closes the connection and raises ``fmt.error_type`` naming the file.
    """
    conn = _connect(path, fmt, busy_timeout_ms=busy_timeout_ms, read_only=read_only,
                    any_thread=any_thread)
    try:
        if exclusive:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")  # held from the first write to close
        new = _check_format(conn, path, fmt, read_only=read_only)
        if not read_only:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # e.g. a file system without shared memory
                log.warning("%s: journal mode %s, not WAL: %s", path, mode, fmt.without_wal)
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            if prepare is not None:
                prepare(conn, new)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):  # e.g. "file is not a database"
            raise fmt.sqlite_error(path, "cannot open", exc) from exc
        raise
    return conn


def _connect(path: Path, fmt: StoreFormat[E], *, busy_timeout_ms: int, read_only: bool,
             any_thread: bool) -> sqlite3.Connection:
    if read_only:
        if not path.is_file():
            raise fmt.error_type(f"{path}: no {fmt.noun} there (file not found)")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = ("a file is in the way" if isinstance(exc, FileExistsError | NotADirectoryError)
                   else exc.strerror or str(exc))
            fix = f" {fmt.elsewhere}" if fmt.elsewhere else ""
            raise fmt.error_type(f"{path}: cannot create its folder {path.parent}: {why}; "
                                 f"check the path{fix}") from exc
    try:
        # Autocommit (isolation_level=None): a statement outside BEGIN is its own transaction.
        if read_only:
            conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True,
                                   isolation_level=None, check_same_thread=not any_thread)
        else:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=not any_thread)
    except (OSError, sqlite3.Error) as exc:
        raise fmt.sqlite_error(path, "cannot open", exc) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    except sqlite3.Error as exc:
        conn.close()
        raise fmt.sqlite_error(path, "cannot open", exc) from exc
    return conn


def _check_format(conn: sqlite3.Connection, path: Path, fmt: StoreFormat[E], *,
                  read_only: bool) -> bool:
    """Raise unless the file is ``fmt``'s, of a version we read; return whether it is empty."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    new = app_id == 0 and version == 0 and tables == 0
    if not new and app_id != fmt.application_id:
        raise fmt.not_ours(path, f"SQLite application_id {app_id:#x}")
    if version > fmt.schema_version:
        fix = f" {fmt.elsewhere}" if fmt.elsewhere else ""
        raise fmt.error_type(f"{path}: {fmt.noun} schema version {version} is newer than this "
                             f"program's ({fmt.schema_version}); use a newer icu-ws{fix}")
    if not new and version < fmt.min_version:  # a migration from an older version goes here
        raise fmt.not_ours(path, f"unknown schema version {version}")
    if read_only and new:
        raise fmt.error_type(f"{path}: empty file, not {fmt.a_noun} yet")
    return bool(new)


def create_schema(conn: sqlite3.Connection, fmt: StoreFormat[E]) -> None:
    """Create ``fmt``'s tables and stamp the file as ours; call inside :func:`write_transaction`."""
    for statement in fmt.schema:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {fmt.application_id}")
    conn.execute(f"PRAGMA user_version = {fmt.schema_version}")


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock now) ... ``COMMIT``; any exception rolls back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Undo an open transaction; a failing rollback must not hide the original error."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")
