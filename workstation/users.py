"""Named users of the workstation and their PINs, stored only as argon2 hashes.

Replaces the one shared PIN of the configuration: every unlock names a user, and every action
after it is logged with that user. The file (``[ui] users_file``) is JSON, written atomically
and readable by the workstation's account only (0600); a PIN never touches the disk. The file
is read at each unlock, so ``icu-ws user add`` takes effect without a restart.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dbc.errors import ConfigError, InfusionError

# A name starts with a letter, so a PIN typed into the name field is never a name (and the
# log of a refused unlock never shows it).
NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
PIN = re.compile(r"^[0-9]{4,12}$")
FORMAT_VERSION = 1


class Role(StrEnum):
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    BIOMED = "biomed"


class UserError(InfusionError):
    """A user command that cannot be done (bad name or PIN, duplicate, unknown user)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    pin_hash: str
    added: str = ""  # ISO-8601 UTC

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role.value, "pin_hash": self.pin_hash,
                "added": self.added}


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: use 2-32 lower-case letters, digits, '.', '_' or "
                        "'-', starting with a letter (e.g. rn-jones)")
    return name


def check_pin(pin: str) -> str:
    if not PIN.fullmatch(pin):
        raise UserError("PIN: use 4 to 12 digits (the unlock dialog takes digits only)")
    if len(set(pin)) == 1 or pin in "0123456789012" or pin in "9876543210987":
        raise UserError("PIN: a repeated or sequential PIN (1111, 1234) is guessed first: "
                        "choose another")
    return pin


class UserStore:
    """The users file. Every read goes to the disk; every write replaces it atomically."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()

    # -- reading ---------------------------------------------------------------------------
    def users(self) -> list[User]:
        """Every user; none when the file does not exist yet."""
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return []
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(str(self.path), [
                f"permissions {stat.S_IMODE(mode):04o}: the PIN hashes must be readable by the "
                f"workstation's account only; run: chmod 600 {self.path}"])
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(str(self.path), [f"not a users file: {exc}"]) from None
        return self._parse(data)

    def _parse(self, data: object) -> list[User]:
        if not isinstance(data, dict) or not isinstance(data.get("users"), list):
            raise ConfigError(str(self.path), ["users: expected {\"users\": [...]}"])
        out, problems = [], []
        for i, item in enumerate(data["users"]):
            if not isinstance(item, dict):
                problems.append(f"users[{i}]: expected an object (got {item!r})")
                continue
            name, role, pin_hash = item.get("name"), item.get("role"), item.get("pin_hash")
            if not isinstance(name, str) or not NAME.fullmatch(name):
                problems.append(f"users[{i}].name: not a user name (got {name!r})")
            elif role not in set(Role):
                problems.append(f"users[{i}].role: one of {[r.value for r in Role]} "
                                f"(got {role!r})")
            elif not isinstance(pin_hash, str) or not pin_hash.startswith("$argon2"):
                problems.append(f"users[{i}].pin_hash: not an argon2 hash; remove the user "
                                "and add it again with icu-ws user add")
            else:
                out.append(User(name, Role(role), pin_hash, str(item.get("added", ""))))
        if problems:
            raise ConfigError(str(self.path), problems)
        return out

    def get(self, name: str) -> User | None:
        return next((u for u in self.users() if u.name == name), None)

    def verify(self, name: str, pin: str) -> User | None:
        """The user, if ``pin`` is theirs. An unknown name costs one hash too (no hint of
        which names exist from the time it takes)."""
        user = self.get(name.strip().lower())
        target = user.pin_hash if user is not None else self._dummy_hash()
        ok: bool
        try:
            ok = self.hasher.verify(target, pin)
        except (VerificationError, InvalidHashError):
            ok = False
        return user if ok and user is not None else None

    _dummy: str | None = None

    def _dummy_hash(self) -> str:
        if UserStore._dummy is None:
            UserStore._dummy = self.hasher.hash("not-a-pin")
        return UserStore._dummy

    # -- writing ---------------------------------------------------------------------------
    def add(self, name: str, role: Role, pin: str) -> User:
        check_name(name)
        check_pin(pin)
        users = self.users()
        if any(u.name == name for u in users):
            raise UserError(f"user {name!r} already exists in {self.path}: remove it first "
                            f"(icu-ws user remove {name}) to change its PIN or role")
        added = datetime.now(UTC).isoformat(timespec="seconds")
        user = User(name, role, self.hasher.hash(pin), added)
        self._write([*users, user])
        return user

    def remove(self, name: str) -> User:
        users = self.users()
        user = next((u for u in users if u.name == name), None)
        if user is None:
            raise UserError(f"no user {name!r} in {self.path}; users: "
                            f"{', '.join(u.name for u in users) or 'none'}")
        self._write([u for u in users if u.name != name])
        return user

    def _write(self, users: list[User]) -> None:
        """Atomically, created 0600: never a moment with a readable or half-written file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": FORMAT_VERSION, "users": [u.to_json() for u in users]},
                          indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
