"""H7 in the UI: an action that fails is shown to the nurse; the app never exits on it.

Textual's workers exit the app when they raise (``exit_on_error`` defaults to True), and an
exception from an action handler does the same: every channel's display would go with it.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from channels.controller import ChannelError
from channels.planning import InfusionOrder
from pumps.module import Fault
from tests.tui.conftest import UiBench
from tui.screens.dialogs import MessageScreen

FLUID = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=20, vtbi_ml=100)


def toasts(ui: UiBench) -> str:
    """Every notification shown so far (headless, toasts are not mounted to query)."""
    return "\n".join(f"{n.title}: {n.message}" for n in ui.app._notifications)


async def test_pause_of_a_channel_whose_module_goes_silent_is_shown_not_fatal(
        ui: UiBench, tmp_path: Path) -> None:
    # Issue 14: "program A; start; module A silent; wait 1.5 s; pause A" ended in a bare
    # TimeoutError in the pause worker, and the app exited.
    await ui.ws.program("A", FLUID)
    await ui.ws.start("A")
    await ui.until(lambda: ui.ws.channel("A").state == "INFUSING", what="A infusing")
    sup = ui.ws.supervisor
    controller = sup.controllers["A"]
    info = sup.registry.get(controller.config.bus, controller.node)
    assert info is not None
    ui.module("A").inject(Fault.SILENT)
    await ui.until(lambda: sup.clock() - info.last_seen > 1.5, what="1.5 s of silence")
    await ui.pilot.press("a", "3")  # select A, pause
    await ui.until(lambda: "abandoned" in toasts(ui) or "no pump module" in toasts(ui),
                   timeout=8, what="the failure shown")
    assert ui.app.is_running and ui.app.return_code is None
    await ui.pilot.press("b")  # the app still answers the keyboard
    await ui.until(lambda: ui.app.grid.selected == "B", what="B selected")


async def test_an_unexpected_error_in_an_action_is_shown_and_the_app_keeps_running(
        ui: UiBench) -> None:
    async def broken_start(letter: str, *, user: str | None = None) -> None:
        raise RuntimeError("start path bug")

    ui.ws.start = broken_start  # type: ignore[method-assign]
    await ui.pilot.press("b", "2")  # select B, start
    await ui.until(lambda: isinstance(ui.app.screen, MessageScreen), what="error dialog")
    text = str(ui.app.screen.query_one("#message-text", Static).render())
    assert "start path bug" in text and "still supervised" in text
    await ui.pilot.press("escape")
    await ui.until(lambda: not isinstance(ui.app.screen, MessageScreen), what="closed")
    assert ui.app.is_running and ui.app.return_code is None


async def test_acknowledging_an_alarm_that_just_went_is_shown_not_fatal(ui: UiBench) -> None:
    ui.module("A").inject(Fault.DOOR)
    await ui.until(lambda: ui.ws.active_alarms(), what="an alarm")

    def gone(alarm_id: int, *, user: str | None = None) -> None:
        raise ChannelError(f"no active alarm {alarm_id}")  # cleared between list and press

    ui.ws.acknowledge = gone  # type: ignore[method-assign]
    await ui.pilot.press("a", "8")
    await ui.until(lambda: "no active alarm" in toasts(ui), what="shown")
    assert ui.app.is_running and ui.app.return_code is None
