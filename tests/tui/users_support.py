"""A named user for the UI tests: a real users file (argon2) in the test's directory."""

from __future__ import annotations

from pathlib import Path

from tests.tui.conftest import UiBench
from workstation.users import Role, UserStore

NAME, PIN = "rn-test", "2468"


def with_user(ui: UiBench, tmp_path: Path, name: str = NAME, pin: str = PIN,
              role: Role = Role.NURSE) -> UserStore:
    store = UserStore(tmp_path / "users.json")
    store.add(name, role, pin)
    ui.app.users = store
    return store


async def unlock(ui: UiBench, name: str = NAME, pin: str = PIN) -> None:
    """Ctrl+K (the dialog), the user name, Enter, the PIN, Enter."""
    await ui.pilot.press("ctrl+k")
    await ui.pilot.press(*name, "enter", *pin, "enter")
