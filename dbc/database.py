"""Finding and loading ``infusion.dbc`` (this package's data), strictly, once per process."""

from __future__ import annotations

import functools
import importlib.resources
import os
from pathlib import Path

import cantools
from cantools.database.can import Database

from dbc.errors import DbcError

__all__ = ["dbc_path", "load_database", "split_name"]

# Package data, found the same way in a checkout and in an installed wheel.
DEFAULT_DBC = Path(str(importlib.resources.files("dbc") / "infusion.dbc"))
NODE_MASK = 0x7F  # identifier = function code (multiple of 0x80) + node id
MAX_NODE = 31


def dbc_path() -> Path:
    """The DBC in use: ``$ICU_WS_DBC`` if set, else the one shipped in this package."""
    return Path(os.environ.get("ICU_WS_DBC", DEFAULT_DBC))


@functools.cache
def load_database(path: Path | None = None) -> Database:
    path = path or dbc_path()
    try:
        db = cantools.database.load_file(str(path), strict=True)
    except FileNotFoundError as exc:
        raise DbcError(f"{path}: DBC file not found; set ICU_WS_DBC or reinstall") from exc
    except Exception as exc:  # cantools raises several unrelated types on bad input
        raise DbcError(f"{path}: cannot load DBC: {exc}") from exc
    if not isinstance(db, Database):
        raise DbcError(f"{path}: not a CAN database")
    return db


def split_name(name: str) -> tuple[str, int]:
    """``Pump03_Status`` -> (``Status``, 3); ``WS_Heartbeat`` -> (``WS_Heartbeat``, 0)."""
    if name.startswith("Pump") and name[4:6].isdigit() and name[6:7] == "_":
        return name[7:], int(name[4:6])
    return name, 0
