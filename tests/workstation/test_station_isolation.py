"""H6/H13/H7 at the station: one channel's failure is that channel's alarm, never everyone's.

Station + simulated firmware through the real codec, in module time (``StationRig``). A
controller that raises is made so by replacing one method of that one instance: the fault
injection of a software bug, the only way to get one without writing the bug.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.commands import Completion
from channels.controller import ChannelError
from channels.plan import Plan
from dbc.frames import Command, Program
from dbc.vocabulary import EndAction, PumpState
from pumps.module import Fault
from tests.workstation.station_rig import StationRig
from workstation.alarms import ChangeKind, Priority
from workstation.channel_faults import FAULT_QUIET_S
from workstation.command_errors import CommandAbandoned, CommandNotSent

FLUID = Plan(drug_id="plasma-lyte-148", drug_name="Plasma-Lyte 148", rate_ml_h=20,
             vtbi_ml=100)
# Slipped past planning (engineer D's check refuses it): the DBC's KvoRate carries <= 20 mL/h.
BAD_KVO = Plan(drug_id="fentanyl", drug_name="Fentanyl", rate_ml_h=2, vtbi_ml=20,
               end_action=EndAction.STOP, kvo_ml_h=25)
BOTH = pytest.mark.parametrize(("bad", "good"), [("A", "B"), ("B", "A")],
                               ids=["volumetric-fails", "syringe-fails"])


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[StationRig]:
    r = StationRig(tmp_path)
    r.run_until(lambda: all(c.online for c in r.station.controllers.values()), 5, "online")
    yield r
    r.close()


def boom(*args: object) -> None:
    raise RuntimeError("controller bug")


def lost_and_alarmed(rig: StationRig, letter: str) -> bool:
    alarm = rig.alarm(letter, "COMM_LOST")
    return alarm is not None and alarm.priority is Priority.HIGH


@BOTH
def test_a_channel_failing_every_tick_leaves_the_other_supervised(
        rig: StationRig, bad: str, good: str) -> None:
    rig.start(good, FLUID)
    rig.controller(bad).tick = boom  # type: ignore[method-assign,assignment]
    rig.run(1)
    fault = rig.alarm(bad, "CHANNEL_FAULT")
    assert fault is not None and fault.priority is Priority.HIGH and fault.active
    assert "controller bug" in fault.text
    rows = rig.rows("controller bug")
    assert any("Traceback" in str(r.data) or "RuntimeError" in r.message for r in rows)
    assert len(rows) <= 3, "a fault that repeats every tick must not flood the log"
    assert rig.alarm(good, "CHANNEL_FAULT") is None
    # The other channel's timers still run: its lost module is detected.
    rig.modules[good].inject(Fault.SILENT)
    rig.run_until(lambda: lost_and_alarmed(rig, good), 6, f"{good} COMM_LOST")


@BOTH
def test_a_channel_failing_on_its_frames_and_module_events(
        rig: StationRig, bad: str, good: str) -> None:
    c = rig.controller(bad)
    c.on_frame = boom  # type: ignore[assignment,method-assign]
    c.on_module_event = boom  # type: ignore[assignment,method-assign]
    rig.start(good, FLUID)  # commands, acks and read-back of the other channel go on
    rig.modules[bad].inject(Fault.SILENT)
    rig.run(5)  # the bad channel's module is lost: its event handler fails too
    assert rig.alarm(bad, "CHANNEL_FAULT") is not None
    assert rig.controller(good).state is PumpState.INFUSING
    rig.modules[good].inject(Fault.SILENT)
    rig.run_until(lambda: lost_and_alarmed(rig, good), 6, f"{good} COMM_LOST")


def test_channel_fault_clears_when_quiet_and_latches_until_acknowledged(
        rig: StationRig) -> None:
    c = rig.controller("A")
    original = c.tick
    c.tick = boom  # type: ignore[assignment,method-assign]
    rig.run(0.5)
    c.tick = original  # type: ignore[method-assign]
    rig.run(FAULT_QUIET_S + 1)
    fault = rig.alarm("A", "CHANNEL_FAULT")
    assert fault is not None and not fault.active and fault.sounds  # latched
    changes = rig.station.alarms.acknowledge(fault.id, rig.now)
    assert [ch.kind for ch in changes] == [ChangeKind.ACKNOWLEDGED, ChangeKind.REMOVED]


def test_event_log_failure_alarm_is_published_and_so_is_its_recovery(
        rig: StationRig) -> None:
    rig.notices.clear()
    rig.log.close()  # the disk went away
    rig.station.record_user_action("keypad locked")
    published = [ch for n in rig.notices for ch in n.alarm_changes
                 if ch.alarm is not None and ch.alarm.key.condition == "EVENT_LOG_ERROR"]
    assert [ch.kind for ch in published] == [ChangeKind.RAISED]
    assert rig.alarm("WS", "EVENT_LOG_ERROR") is not None
    rig.run(1)  # everything else still runs with the log down
    rig.log.open()
    rig.notices.clear()
    rig.station.record_user_action("keypad unlocked")
    cleared = [ch.kind for n in rig.notices for ch in n.alarm_changes
               if ch.alarm is not None and ch.alarm.key.condition == "EVENT_LOG_ERROR"]
    assert cleared == [ChangeKind.CONDITION_CLEARED]
    assert rig.rows("EVENT_LOG_ERROR"), "the alarm's recovery is logged once the log is back"


@BOTH
async def test_a_frame_the_bus_cannot_carry_ends_that_command_only(
        rig: StationRig, bad: str, good: str) -> None:
    c = rig.controller(bad)
    fx = c.load(BAD_KVO, rig.now)
    futures: dict[int, asyncio.Future[Completion]] = {}
    for frame in fx.frames:
        assert isinstance(frame, Command | Program)
        futures[frame.seq] = asyncio.get_running_loop().create_future()
        rig.station.completions[(bad, frame.seq)] = futures[frame.seq]
    rig.station.apply(fx)  # must not raise EncodeError into the caller
    failed = [f for f in futures.values() if f.done() and f.exception() is not None]
    assert len(failed) == 1
    error = failed[0].exception()
    assert isinstance(error, CommandNotSent) and isinstance(error, ChannelError)
    assert "KvoRate" in str(error) or "kvo" in str(error).lower()
    alarm = rig.alarm(bad, "COMMAND_NOT_SENT")
    assert alarm is not None and alarm.priority is Priority.HIGH
    assert rig.rows("not sent")
    rig.run(5)  # no retry of the frame that cannot be encoded kills the tick
    assert rig.controller(bad).pending is None
    assert rig.alarm(good, "CHANNEL_FAULT") is None
    rig.start(good, FLUID)
    rig.modules[good].inject(Fault.SILENT)
    rig.run_until(lambda: lost_and_alarmed(rig, good), 6, f"{good} COMM_LOST")


@BOTH
async def test_a_command_in_flight_when_the_module_is_lost_ends_abandoned_at_once(
        rig: StationRig, bad: str, good: str) -> None:
    rig.start(bad, FLUID)
    rig.modules[bad].inject(Fault.SILENT)
    info = rig.station.registry.get(rig.controller(bad).config.bus, rig.controller(bad).node)
    assert info is not None
    rig.run_until(lambda: rig.now - info.last_seen > 1.5, 3, "1.5 s of silence")
    fx = rig.controller(bad).pause(rig.now)
    [command] = fx.frames
    assert isinstance(command, Command)
    future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
    rig.station.completions[(bad, command.seq)] = future
    rig.station.apply(fx)
    rig.run_until(lambda: not rig.controller(bad).online, 3, "module lost")
    assert future.done(), "the command ends when its module is lost, not at a timeout"
    # Ended by the controller (an ABANDONED completion) or, failing that, by the station.
    error = future.exception()
    outcome = None if error is not None else future.result().outcome.value
    assert isinstance(error, CommandAbandoned) or outcome == "abandoned"

