"""Text snapshots of deterministic screens and of the pure renderers, against golden files.

Goldens live in ``tests/tui/snapshots/*.txt``. After an intended change of the look, regenerate
them and review the diff before committing::

    UPDATE_SNAPSHOTS=1 python -m pytest tests/tui/test_snapshots.py
    git diff tests/tui/snapshots

Screens are exported as plain text the way ``App.export_screenshot`` builds its SVG: the
compositor's full update printed to a recording Rich console, then ``export_text()``. The
header clock (HH:MM:SS) is masked. Renderer goldens show each case's plain text and then its
Rich markup, so a change of colour or of the flash style shows in the diff too.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console
from rich.text import Text
from textual.app import App

from tests.tui.conftest import UiBench, make_bench
from tui.screens.dialogs import HelpScreen
from tui.widgets.alarm_banner import render_banner
from tui.widgets.channel_card import render_card
from workstation.alarms import Alarm, AlarmKey, AudioState, Indicator, Priority
from workstation.snapshot import ChannelSnapshot

SNAPSHOTS = Path(__file__).with_name("snapshots")
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
CLOCK = re.compile(r"\d\d:\d\d:\d\d")
WIDTHS = (40, 80)


def screen_text(app: App[Any]) -> str:
    """The current screen (modal dialogs over their background) as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True))
    lines = console.export_text(styles=False).splitlines()
    return "\n".join(CLOCK.sub("HH:MM:SS", line).rstrip() for line in lines) + "\n"


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden {path}: run with UPDATE_SNAPSHOTS=1 and review it")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{path.name} differs: UPDATE_SNAPSHOTS=1 if intended"


def cases_text(cases: list[tuple[str, Text]]) -> str:
    out = []
    for name, text in cases:
        out += [f"=== {name} ===", *(line.rstrip() for line in text.plain.split("\n")),
                "--- markup ---", text.markup, ""]
    return "\n".join(out)


# -- fixed values --------------------------------------------------------------------------
BASE = ChannelSnapshot(
    letter="A", label="Central line", bus="can0", slot=1, kind="volumetric", online=True,
    state="INFUSING", mode="PRIMARY", drug="Plasma-Lyte 148", concentration="1000 mL",
    dose=None, dose_unit="mL/h", rate_ml_h=80.0, programmed_rate_ml_h=80.0, vtbi_ml=1000.0,
    volume_infused_ml=123.4, volume_remaining_ml=876.6, time_remaining_min=657,
    pressure_mmhg=42, pressure_trend=(40, 41, 42, 44, 42, 41, 43, 42, 42), battery_percent=95,
    on_mains=True, serial=100001, firmware="1.0.0", program_pending=False,
    program_verified=False, high_alert=False, alarm_text=None, alarm_marker="")
NORAD = replace(BASE, letter="B", label="PICC", slot=2, kind="syringe", drug="Noradrenaline",
                concentration="4 mg/50 mL", dose=0.08, dose_unit="mcg/kg/min", rate_ml_h=4.2,
                programmed_rate_ml_h=4.2, vtbi_ml=50.0, volume_infused_ml=12.5,
                time_remaining_min=536, pressure_mmhg=95, high_alert=True)
IDLE = replace(BASE, state="IDLE", mode="", drug="", concentration="", rate_ml_h=0.0,
               programmed_rate_ml_h=None, vtbi_ml=None, volume_infused_ml=0.0,
               volume_remaining_ml=None, time_remaining_min=None, pressure_mmhg=10,
               pressure_trend=(10,) * 8)
OCCLUSION = "Occlusion downstream — check line and clamps"

CARDS: list[tuple[str, ChannelSnapshot, bool, bool]] = [  # name, snapshot, selected, flash_on
    ("infusing", BASE, False, True),
    ("infusing selected", BASE, True, True),
    ("infusing below the programmed rate", replace(BASE, rate_ml_h=60.0), False, True),
    ("high-alert dose", NORAD, False, True),
    ("secondary", replace(BASE, mode="SECONDARY", drug="Cefazolin"), False, True),
    ("kvo", replace(BASE, state="KVO", rate_ml_h=3.0, time_remaining_min=0), False, True),
    ("complete", replace(BASE, state="COMPLETE", rate_ml_h=0.0, volume_infused_ml=1000.0,
                         time_remaining_min=0), False, True),
    ("paused", replace(BASE, state="PAUSED", rate_ml_h=0.0), False, True),
    ("programmed, sending", replace(IDLE, state="PROGRAMMED", drug="Heparin",
                                    program_pending=True), False, True),
    ("programmed, verified", replace(IDLE, state="PROGRAMMED", drug="Heparin",
                                     program_pending=True, program_verified=True), False, True),
    ("idle", IDLE, False, True),
    ("alarm HIGH, flash on", replace(BASE, state="ALARM", rate_ml_h=0.0, pressure_mmhg=503,
                                     alarm_text=OCCLUSION, alarm_marker="***"), False, True),
    ("alarm HIGH, flash off", replace(BASE, state="ALARM", rate_ml_h=0.0, pressure_mmhg=503,
                                      alarm_text=OCCLUSION, alarm_marker="***"), False, False),
    ("alarm MEDIUM, flash off", replace(BASE, alarm_text="Battery low — connect to mains",
                                        alarm_marker="**"), False, False),
    ("alarm LOW", replace(BASE, alarm_text="Near end of infusion", alarm_marker="*"),
     False, True),
    ("offline", replace(IDLE, state="OFFLINE", online=False, drug="Plasma-Lyte 148",
                        alarm_text="Module not responding", alarm_marker="***"), False, True),
    ("no module", replace(IDLE, state="NO MODULE", online=False, serial=None, firmware=None,
                          pressure_mmhg=None, pressure_trend=(), volume_infused_ml=None),
     False, True),
]


def alarm(aid: int, source: str, priority: Priority, text: str, *, raised: float = 0.0,
          acknowledged: bool = False) -> Alarm:
    return Alarm(id=aid, key=AlarmKey(source, f"COND_{aid}"), priority=priority, text=text,
                 latching=priority is Priority.HIGH, raised_at=raised, last_seen_at=raised,
                 acknowledged=acknowledged, acknowledged_at=5.0 if acknowledged else None,
                 acknowledged_by="nurse" if acknowledged else None)


def indicator(top: Alarm | None, audio: AudioState, *, pause_left_s: float = 0.0,
              others: dict[Priority, int] | None = None) -> Indicator:
    counts = dict.fromkeys(Priority, 0) | (others or {})
    if top is not None:
        counts[top.priority] += 1
    return Indicator(top.priority if top else None, top.key.source if top else "",
                     f"{top.key.source}: {top.text}" if top else "", top.id if top else None,
                     audio, pause_left_s, counts, sum(counts.values()))


HIGH = alarm(1, "A", Priority.HIGH, OCCLUSION)
BANNERS: list[tuple[str, Indicator, Alarm | None, bool]] = [  # name, indicator, top, flash_on
    ("no alarms", indicator(None, AudioState.OFF), None, True),
    ("HIGH, flash on", indicator(HIGH, AudioState.ON), HIGH, True),
    ("HIGH, flash off", indicator(HIGH, AudioState.ON), HIGH, False),
    ("MEDIUM, flash off",
     indicator(m := alarm(2, "B", Priority.MEDIUM, "Battery low"), AudioState.ON), m, False),
    ("LOW", indicator(lo := alarm(3, "C", Priority.LOW, "Near end"), AudioState.ON), lo, True),
    ("INFO", indicator(i := alarm(4, "WS", Priority.INFO, "Telemetry offline"),
                       AudioState.OFF), i, True),
    ("HIGH acknowledged, flash off", indicator(
        ack := alarm(5, "D", Priority.HIGH, "Air in line", acknowledged=True), AudioState.OFF),
     ack, False),
    ("HIGH, audio paused, 3 more", indicator(HIGH, AudioState.PAUSED, pause_left_s=95.5,
                                             others={Priority.HIGH: 1, Priority.MEDIUM: 2}),
     HIGH, True),
]
NOW = 125.0  # every alarm above was raised at 0.0: "2m05s"


# -- renderer goldens ----------------------------------------------------------------------
@pytest.mark.parametrize("width", WIDTHS)
def test_card_renders(width: int) -> None:
    cases = [(f"{name} @{width}", render_card(snap, width, selected=selected,
                                              flash_on=flash_on))
             for name, snap, selected, flash_on in CARDS]
    check(f"card_{width}", cases_text(cases))


@pytest.mark.parametrize("width", WIDTHS)
def test_banner_renders(width: int) -> None:
    cases = [(f"{name} @{width}", render_banner(ind, top, NOW, width, flash_on=flash_on))
             for name, ind, top, flash_on in BANNERS]
    check(f"banner_{width}", cases_text(cases))


# -- screens -------------------------------------------------------------------------------
async def idle_screen(tmp_path: Path, then: Callable[[App[Any]], object] | None = None,
                      ) -> str:
    """An idle 4-channel demo at speed 1, settled: every pressure trend full (8 readings)."""
    benches = cast(AsyncGenerator[UiBench, None],
                   make_bench(tmp_path, speed=1.0, size=(120, 30)))
    async with contextlib.aclosing(benches) as bench:
        ui = await anext(bench)
        await ui.until(lambda: all(len(c.pressure_trend) >= 8 for c in ui.ws.channels()),
                       timeout=10, what="eight pressure readings per channel")
        if then is not None:
            then(ui.app)
        await ui.pilot.pause(0.6)  # a repaint and a few flash ticks
        return screen_text(ui.app)


async def test_idle_main_screen(tmp_path: Path) -> None:
    text = await idle_screen(tmp_path)
    assert "HH:MM:SS" in text and "No alarms" in text
    check("main_idle", text)


async def test_help_screen(tmp_path: Path) -> None:
    def open_help(app: App[Any]) -> None:
        app.push_screen(HelpScreen(app.BINDINGS, demo=True))
    text = await idle_screen(tmp_path, open_help)
    assert "Keys" in text
    check("help", text)
