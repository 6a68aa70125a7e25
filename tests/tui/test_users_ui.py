"""Named users at the keypad: unlock as oneself, lock-out after wrong PINs, auto-lock, and
every action in the event log with the user's name."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import Static

from channels.events import EventKind
from channels.planning import InfusionOrder
from tests.tui.conftest import UiBench
from tests.tui.users_support import NAME, PIN, unlock, with_user
from tui.screens.dialogs import HelpScreen, PinScreen
from workstation.demo import DEMO_PIN, DEMO_USER, ensure_demo_user
from workstation.login_guard import LoginGuard
from workstation.users import Role, UserStore


async def test_actions_after_unlock_are_logged_with_the_users_name(ui: UiBench,
                                                                   tmp_path: Path) -> None:
    with_user(ui, tmp_path, name="rn-jones", pin="5081", role=Role.NURSE)
    await ui.pilot.press("ctrl+k")
    assert ui.app.locked
    await unlock(ui, "rn-jones", "5081")
    await ui.until(lambda: not ui.app.locked, what="unlocked")
    await ui.ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100,
                                           vtbi_ml=500))
    await ui.pilot.press("a", "2")  # start A from the keypad
    await ui.until(lambda: ui.ws.channel("A").state == "INFUSING", what="A infusing")
    starts = [r for r in ui.ws.event_log.query(channel="A", kinds=[EventKind.COMMAND])
              if "start" in r.message.lower()]
    assert starts and starts[-1].user == "rn-jones"
    unlocked = ui.ws.event_log.query(text="keypad unlocked")[-1]
    assert unlocked.user == "rn-jones" and "(nurse)" in unlocked.message


async def test_wrong_pins_lock_the_name_out_and_each_is_logged(ui: UiBench,
                                                               tmp_path: Path) -> None:
    with_user(ui, tmp_path)
    ui.app.guard = LoginGuard(max_failures=3, lockout_s=300, delay_s=0)
    await ui.pilot.press("ctrl+k", "ctrl+k")
    assert isinstance(ui.app.screen, PinScreen)
    await ui.pilot.press(*NAME, "enter")
    for _ in range(3):
        await ui.pilot.press(*"9753", "enter")
    error = str(ui.app.screen.query_one("#pin-error", Static).content)
    assert "locked out" in error
    await ui.pilot.press(*PIN, "enter")  # the right PIN, but the name is locked out
    assert isinstance(ui.app.screen, PinScreen) and ui.app.locked
    refused = ui.ws.event_log.query(text="unlock refused")
    assert len(refused) == 3 and "locked out" in refused[-1].message


async def test_auto_lock_after_inactivity_is_logged_and_stated_in_help(ui: UiBench) -> None:
    relock = ui.ws.config.ui.relock_s
    ui.app.last_activity = time.monotonic() - relock - 1
    ui.app.repaint()
    assert ui.app.locked
    assert ui.ws.event_log.query(text="locked automatically")
    await ui.pilot.press("question_mark")
    assert isinstance(ui.app.screen, HelpScreen)
    text = str(ui.app.screen.query_one("#help-text", Static).content)
    assert f"Auto-lock: after {relock / 60:g} min" in text and "user name" in text


async def test_no_users_yet_says_how_to_add_one(ui: UiBench, tmp_path: Path) -> None:
    ui.app.users = UserStore(tmp_path / "none.json")
    await ui.pilot.press("ctrl+k", "ctrl+k", *"rn-x", "enter", *"2468", "enter")
    assert "icu-ws user add" in str(ui.app.screen.query_one("#pin-error", Static).content)
    assert ui.app.locked


def test_demo_creates_its_first_user_and_says_its_pin(tmp_path: Path) -> None:
    path = tmp_path / "demo-users.json"
    note = ensure_demo_user(path)
    assert DEMO_USER in note and DEMO_PIN in note
    assert UserStore(path).verify(DEMO_USER, DEMO_PIN) is not None
    assert ensure_demo_user(path) == note  # the second start finds it


async def test_a_pin_typed_as_the_user_name_never_reaches_the_log(ui: UiBench,
                                                                  tmp_path: Path) -> None:
    with_user(ui, tmp_path)
    await ui.pilot.press("ctrl+k", "ctrl+k", *PIN, "enter", *PIN, "enter")
    assert ui.app.locked
    refused = ui.ws.event_log.query(text="unlock refused")
    assert len(refused) == 1 and PIN not in refused[0].message
    assert "not a user name" in refused[0].message


async def test_typing_in_a_dialog_field_postpones_the_auto_lock(ui: UiBench) -> None:
    await ui.pilot.press("ctrl+o", "slash")  # the event log's filter field
    ui.app.last_activity = 0.0
    await ui.pilot.press("x")
    assert ui.app.last_activity > 0
    ui.app.repaint()
    assert not ui.app.locked
