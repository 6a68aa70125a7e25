"""H5 at the station: an acknowledged alarm never leaves a stopped channel silent for good.

Station + simulated firmware through the real codec, in module time (``StationRig``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.plan import Plan
from dbc.vocabulary import PumpState
from pumps.module import Fault
from tests.workstation.station_rig import StationRig
from workstation.alarms import AudioState, Priority

NORAD = Plan(drug_id="noradrenaline", drug_name="Noradrenaline", rate_ml_h=6, vtbi_ml=50,
             dose=0.1, dose_unit="mcg/kg/min", weight_kg=80, high_alert=True)
PAUSE_S = 120.0  # config alarms.audio_pause_s (default)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[StationRig]:
    r = StationRig(tmp_path)
    r.run_until(lambda: all(c.online for c in r.station.controllers.values()), 5, "online")
    yield r
    r.close()


def sounding(rig: StationRig, letter: str) -> bool:
    return any(a.sounds for a in rig.station.alarms.active() if a.key.source == letter)


@pytest.mark.parametrize("letter", ["A", "B"], ids=["volumetric", "syringe"])
def test_channel_left_stopped_in_alarm_after_acknowledgement_is_reminded(
        rig: StationRig, letter: str) -> None:
    # Noradrenaline running; the door is opened: the pump stops in ALARM. The nurse closes
    # it and acknowledges everything, but does not restart: the patient gets no vasopressor.
    assert rig.station.config.alarms.audio_pause_s == PAUSE_S
    rig.start(letter, NORAD)
    rig.modules[letter].inject(Fault.DOOR)
    c = rig.controller(letter)
    rig.run_until(lambda: c.state is PumpState.ALARM, 5, "stopped by the open door")
    rig.modules[letter].inject(Fault.DOOR, 0)
    rig.run(5)
    assert c.state is PumpState.ALARM
    rig.acknowledge_all(letter)
    rig.run(1)
    assert not sounding(rig, letter)
    acknowledged_at = rig.now
    rig.run_until(lambda: sounding(rig, letter), PAUSE_S + 5, "a reminder for the stopped line")
    assert rig.now - acknowledged_at <= PAUSE_S + 1
    reminder = rig.alarm(letter, "STOPPED_IN_ALARM")
    assert reminder is not None and reminder.priority is Priority.HIGH
    assert rig.station.alarms.indicator(rig.now).audio is AudioState.ON
    assert rig.rows("STOPPED_IN_ALARM"), "the reminder is in the event log"
    # Acknowledged again and still stopped: it comes back after the pause time (H5).
    rig.acknowledge_all(letter)
    rig.run(1)
    assert not sounding(rig, letter)
    rig.run_until(lambda: sounding(rig, letter), PAUSE_S + 5, "the reminder sounds again")
    # Restarted: the reminder's condition goes away.
    rig.station.apply(c.start(rig.now))
    rig.run_until(lambda: c.state is not PumpState.ALARM, 3, "restarted")
    rig.run(1)
    shown = rig.alarm(letter, "STOPPED_IN_ALARM")
    assert shown is None or not shown.active


def test_channel_paused_or_idle_gets_no_stopped_in_alarm_reminder(rig: StationRig) -> None:
    rig.start("A", NORAD)
    rig.station.apply(rig.controller("A").pause(rig.now))
    rig.run(PAUSE_S + 10)
    assert rig.alarm("A", "STOPPED_IN_ALARM") is None
    assert rig.alarm("B", "STOPPED_IN_ALARM") is None
