"""Issue 12.8 and 12.9: the footer while locked shows only what works and never cuts a key
mid-word; channels scrolled out of view are counted, alarming ones named; the quit question
says what really happens in the demo and with real modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Static

from pumps.module import Fault
from tests.tui.conftest import UiBench, make_bench
from tests.tui.test_snapshots import screen_text
from tui.quit_notice import quit_consequence
from tui.screens.dialogs import ConfirmScreen

SIZES = [(80, 24), (160, 50)]
DESCRIPTIONS = ["Audio pause", "Actions", "Program", "Start", "Pause", "Stop", "Acknowledge",
                "Lock", "Help"]


@pytest.fixture(params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def sixteen(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UiBench]:
    async for ui in make_bench(tmp_path, channels=16, size=request.param):
        yield ui


def footer_row(ui: UiBench) -> str:
    return screen_text(ui.app).splitlines()[-1]


def whole_words_only(row: str) -> None:
    """Every word on the key line is a whole key or description: nothing cut at the edge."""
    words = set(" ".join(DESCRIPTIONS).split()) | {"space", "⏎", "f2", "f3", "f4", "f5", "f9",
                                                    "^k", "?", "Unlock"}
    assert row.split() and all(w in words for w in row.split()), row


async def test_locked_footer_shows_only_what_works(sixteen: UiBench) -> None:
    ui = sixteen
    await ui.pilot.pause(0.3)
    row = footer_row(ui)
    whole_words_only(row)
    assert "Audio pause" in row and "Acknowledge" in row and "Help" in row
    ui.app.set_locked(True)
    await ui.pilot.pause(0.3)
    row = footer_row(ui)
    whole_words_only(row)
    assert row.split() == ["space", "Audio", "pause", "^k", "Unlock", "?", "Help"], row
    await ui.pilot.press("1")  # Program: hidden, and pressing it says why nothing happens
    await ui.pilot.pause(0.2)
    assert any("Locked" in n.message for n in ui.app._notifications)
    ui.app.set_locked(False)
    await ui.pilot.pause(0.3)
    assert "Acknowledge" in footer_row(ui)


async def test_channels_below_the_fold_are_counted_and_alarms_named(sixteen: UiBench) -> None:
    ui = sixteen
    ui.module("O").inject(Fault.DOOR, 1)  # the last row at 80x24 and at 160x50
    await ui.until(lambda: ui.ws.channel("O").alarm_marker == "**", what="door alarm on O")
    await ui.pilot.pause(0.5)
    line = str(ui.app.grid.query_one("#off-screen", Static).render())
    screen = screen_text(ui.app)
    if ui.app.size.height >= 50:  # 16 cards fit: nothing off screen, no line
        assert not ui.app.grid.query_one("#off-screen").display
        return
    above, below = ui.app.grid.hidden_letters()
    assert "O" in below and not above
    assert f"▼ {len(below)} channels below" in line and "alarming ** O" in line
    assert "alarming ** O" in screen  # what the nurse sees
    await ui.pilot.press("o")  # selecting it scrolls it into view
    await ui.pilot.pause(0.3)
    line = str(ui.app.grid.query_one("#off-screen", Static).render())
    assert "O" not in ui.app.grid.hidden_letters()[1] and "alarming ** O" not in line


def test_quit_says_what_happens_in_each_mode() -> None:
    demo = quit_consequence(demo=True, running=["A"])
    assert "STOP" in demo and "KEEP RUNNING" not in demo and "Running now: A" in demo
    real = quit_consequence(demo=False, running=["A", "B"])
    assert "KEEP RUNNING" in real and "workstation heartbeat lost" in real


async def test_quit_dialog_in_the_demo(sixteen: UiBench) -> None:
    ui = sixteen
    await ui.pilot.press("ctrl+q")
    await ui.until(lambda: isinstance(ui.app.screen, ConfirmScreen), what="quit question")
    text = screen_text(ui.app)
    assert "simulated pumps" in text and "STOP" in text and "UNSUPERVISED" not in text
    await ui.pilot.press("escape")
