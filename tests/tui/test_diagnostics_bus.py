"""The diagnostics view shows each bus's controller state and error frames (issue 10, B7/B8)."""

from __future__ import annotations

import can
from textual.widgets import Static

from tests.tui.conftest import UiBench
from tui.screens.diagnostics import DiagnosticsScreen
from workstation.bus_health import ERR_CRTL


async def test_diagnostics_show_the_controller_state_and_error_frames(ui: UiBench) -> None:
    await ui.pilot.press("ctrl+d")
    screen = ui.app.screen
    assert isinstance(screen, DiagnosticsScreen)
    line = screen.query_one("#diag-bus-health", Static)
    await ui.until(lambda: "controller ERROR_ACTIVE" in str(line.render()), timeout=3,
                   what="the controller state")
    bus = ui.ws.config.buses[0]
    sender = can.Bus(interface=bus.interface, channel=bus.channel)
    try:
        sender.send(can.Message(arbitration_id=ERR_CRTL, data=bytes([0, 0x10, 0, 0, 0, 0, 0, 0]),
                                is_error_frame=True, is_extended_id=False))
        await ui.until(lambda: "ERROR_PASSIVE, 1 error frames" in str(line.render()),
                       timeout=5, what="error-passive after an error frame")
    finally:
        sender.shutdown()
