"""Named users: argon2-hashed PINs in a 0600 file, and the unlock rate limit (pure)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dbc.errors import ConfigError
from icu_ws.user import run as user_run
from workstation.config import UiConfig, load_config
from workstation.login_guard import LoginGuard, Verdict
from workstation.users import Role, UserError, UserStore


def test_pins_are_stored_as_argon2_hashes_in_a_private_file(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "var" / "users.json")
    store.add("rn-jones", Role.NURSE, "2468")
    text = store.path.read_text()
    assert "2468" not in text and "$argon2id$" in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.verify("rn-jones", "2468") == store.get("rn-jones")
    assert store.verify("rn-jones", "2469") is None
    assert store.verify("nobody", "2468") is None
    assert store.verify("RN-Jones ", "2468") is not None  # as typed on the keypad


def test_add_refuses_duplicates_weak_pins_and_bad_names(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.json")
    store.add("pharm-li", Role.PHARMACIST, "5081")
    with pytest.raises(UserError, match="already exists"):
        store.add("pharm-li", Role.NURSE, "7316")
    for pin in ("1234", "0000", "12a4", "123"):
        with pytest.raises(UserError, match="PIN"):
            store.add("rn-x", Role.NURSE, pin)
    with pytest.raises(UserError, match="user name"):
        store.add("Bad Name", Role.NURSE, "7316")
    assert [u.name for u in store.users()] == ["pharm-li"]
    store.remove("pharm-li")
    assert store.users() == []
    with pytest.raises(UserError, match="no user"):
        store.remove("pharm-li")


def test_a_readable_or_broken_users_file_is_refused_with_its_name(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.json")
    store.add("bio-kim", Role.BIOMED, "8642")
    store.path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        store.users()
    store.path.chmod(0o600)
    data = json.loads(store.path.read_text())
    data["users"][0]["role"] = "doctor"
    store.path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"users\[0\]\.role.*doctor") as info:
        store.users()
    assert str(store.path) in str(info.value)


def test_guard_delays_each_retry_then_locks_the_name_out() -> None:
    guard = LoginGuard(max_failures=3, lockout_s=300, delay_s=2)
    assert guard.may_try("rn-a", 0).verdict is Verdict.OK
    first = guard.failed("rn-a", 0)
    assert first.verdict is Verdict.WRONG and first.wait_s == 2
    assert guard.may_try("rn-a", 1).verdict is Verdict.TOO_SOON
    assert guard.may_try("rn-b", 1).verdict is Verdict.OK  # another user is not held up
    assert guard.failed("rn-a", 2).wait_s == 4
    locked = guard.failed("rn-a", 6)
    assert locked.verdict is Verdict.LOCKED_OUT and locked.failures == 3
    assert guard.may_try("RN-A", 300).verdict is Verdict.LOCKED_OUT
    assert "locked out" in guard.may_try("rn-a", 300).message(3)
    assert guard.may_try("rn-a", 306).verdict is Verdict.OK  # lock-out over: count afresh
    assert guard.failed("rn-a", 306).failures == 1
    guard.succeeded("rn-a")
    assert guard.may_try("rn-a", 306).verdict is Verdict.OK


def test_the_shared_pin_in_a_config_is_an_error_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "ws.toml"
    path.write_text('[ui]\npin = "1234"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text and "ui" in text and "pin" in text and "icu-ws user add" in text
    assert UiConfig().relock_s == 300


def test_user_cli_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    users = tmp_path / "users.json"
    pin_file = tmp_path / "pin"
    pin_file.write_text("3579\n")

    def cli(*argv: str) -> int:
        from icu_ws.cli import build_parser
        args: argparse.Namespace = build_parser().parse_args(
            ["user", *argv, "--users-file", str(users)])
        return user_run(args)

    assert cli("add", "rn-jones", "--role", "nurse", "--pin-file", str(pin_file)) == 0
    assert cli("add", "rn-jones", "--role", "nurse", "--pin-file", str(pin_file)) == 2
    assert cli("list") == 0
    out = capsys.readouterr().out
    assert "rn-jones" in out and "nurse" in out and "3579" not in out
    assert UserStore(users).verify("rn-jones", "3579") is not None
    assert cli("remove", "rn-jones") == 0
    assert UserStore(users).users() == []
