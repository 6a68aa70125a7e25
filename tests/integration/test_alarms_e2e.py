"""Alarms end to end: a fault in a simulated module -> CAN -> controller -> shared alarm system."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.controller import ChannelError
from channels.events import EventKind
from channels.planning import InfusionOrder
from dbc.vocabulary import PumpState
from pumps.module import Fault
from tests.integration.conftest import Bench
from workstation.alarms import AudioState, Priority

FLUID = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100, vtbi_ml=1000)


async def infusing(bench: Bench, letter: str = "A") -> None:
    await bench.api.program(letter, FLUID if letter == "A" else
                            InfusionOrder(drug_id="insulin", dose=2, vtbi_ml=50))
    await bench.api.start(letter)
    await bench.until(lambda: bench.api.channel(letter).state == "INFUSING", 2, "infusing")


async def test_occlusion_is_high_stops_the_infusion_and_is_logged(bench: Bench) -> None:
    await infusing(bench)
    bench.module("A").inject(Fault.OCCLUSION)
    alarm = await bench.until(lambda: bench.alarm("A", "OCCLUSION_DOWNSTREAM"), 10, "occlusion")
    assert alarm.priority is Priority.HIGH and alarm.latching
    await bench.until(lambda: bench.api.channel("A").state == "ALARM", 2, "pump stopped")
    assert bench.api.channel("A").rate_ml_h == 0
    ind = bench.api.indicator()
    assert ind.priority is Priority.HIGH and ind.source == "A" and ind.audio is AudioState.ON
    rows = bench.log_rows(EventKind.ALARM, channel="A")
    assert any("OCCLUSION_DOWNSTREAM" in r.message and r.data.get("change") == "raised"
               for r in rows)
    assert any(r.data.get("state") == "ALARM" for r in bench.log_rows(EventKind.STATE))


async def test_air_in_line_needs_clearing_at_the_pump_before_restart(bench: Bench) -> None:
    # H12: an acknowledge at the workstation used to re-arm the pump's air detector.
    await infusing(bench)
    bench.module("A").inject(Fault.AIR, 200)
    alarm = await bench.until(lambda: bench.alarm("A", "AIR_IN_LINE"), 10, "air alarm")
    assert alarm.priority is Priority.HIGH
    await bench.until(lambda: bench.api.channel("A").state == "ALARM", 2, "stopped")
    with pytest.raises(ChannelError, match="AIR_NOT_CLEARED"):
        await bench.api.start("A")
    bench.api.acknowledge(alarm.id, user="rn-smith")
    with pytest.raises(ChannelError, match="AIR_NOT_CLEARED"):
        await bench.api.start("A")
    assert bench.module("A").firmware.state is PumpState.ALARM
    bench.module("A").inject(Fault.CLEAR_AIR)  # the nurse clears the line at the pump
    await bench.until(lambda: bench.alarm("A", "AIR_IN_LINE") is None, 3, "air alarm gone")
    await bench.api.start("A")
    await bench.until(lambda: bench.api.channel("A").state == "INFUSING", 2, "restarted")
    acks = [r for r in bench.log_rows(EventKind.ALARM, channel="A")
            if r.data.get("change") == "acknowledged"]
    assert acks and acks[0].user == "rn-smith"


async def test_silent_module_is_communication_lost_then_recovers(bench: Bench) -> None:
    await infusing(bench)
    bench.module("A").inject(Fault.SILENT)
    alarm = await bench.until(lambda: bench.alarm("A", "COMM_LOST"), 6, "comm lost")
    assert alarm.priority is Priority.HIGH
    assert bench.api.channel("A").state == "OFFLINE"
    assert bench.module("A").firmware.state is PumpState.INFUSING  # it only stopped talking
    bench.module("A").inject(Fault.SILENT, 0)
    await bench.until(lambda: bench.api.channel("A").state == "INFUSING", 5, "back online")
    latched = bench.alarm("A", "COMM_LOST")
    assert latched is not None and not latched.active  # latched until acknowledged
    bench.api.acknowledge(latched.id)
    assert bench.alarm("A", "COMM_LOST") is None
    changes = [r.data.get("change") for r in bench.log_rows(EventKind.MODULE, channel="A")]
    assert changes[-2:] == ["lost", "returned"]


async def test_latching_high_alarm_stays_until_acknowledged(bench: Bench) -> None:
    await infusing(bench)
    bench.module("A").inject(Fault.DOOR)
    alarm = await bench.until(lambda: bench.alarm("A", "DOOR_OPEN"), 3, "door alarm")
    assert alarm.priority is Priority.HIGH  # door opened while infusing
    bench.module("A").inject(Fault.DOOR, 0)
    # H2: the module, stopped in ALARM, keeps saying why until the nurse acknowledges it.
    await bench.until(lambda: bench.module("A").firmware.mechanism.conditions() == 0, 3,
                      "door closed")
    assert bench.alarm("A", "DOOR_OPEN") is not None
    assert bench.api.indicator().audio is AudioState.ON  # a latched alarm still sounds
    bench.api.acknowledge(alarm.id)
    await bench.until(lambda: bench.alarm("A", "DOOR_OPEN") is None, 3, "alarm gone")


async def test_audio_pause_rearms_and_a_new_high_breaks_it(bench: Bench) -> None:
    await infusing(bench)
    await infusing(bench, "B")
    bench.module("B").inject(Fault.BATTERY_LOW)
    await bench.until(lambda: bench.alarm("B", "BATTERY_LOW"), 3, "battery low")
    bench.api.audio_pause(user="rn-jones")
    ind = bench.api.indicator()
    assert ind.audio is AudioState.PAUSED and ind.pause_left_s == pytest.approx(120, abs=1)
    # Only the alarm system's clock moves on; modules and watchdogs keep real time.
    alarms, now = bench.api.supervisor.alarms, bench.clock()
    alarms.tick(now + 119)
    assert alarms.indicator(now + 119).audio is AudioState.PAUSED
    resumed = alarms.tick(now + 121)
    assert [c.kind.name for c in resumed] == ["AUDIO_RESUMED"]  # re-armed by itself
    assert alarms.indicator(now + 121).audio is AudioState.ON
    assert not any(a.priority is Priority.HIGH for a in alarms.active())  # not a new HIGH
    bench.api.audio_pause()
    bench.module("A").inject(Fault.OCCLUSION)
    await bench.until(lambda: bench.alarm("A", "OCCLUSION_DOWNSTREAM"), 10, "occlusion")
    assert bench.api.indicator().audio is AudioState.ON  # a new HIGH sounds through a pause
    assert bench.api.indicator().source == "A"
    assert any("audio paused" in r.message for r in bench.log_rows(EventKind.USER))


async def test_unanswered_command_is_retried_then_alarms(bench_factory: Callable[..., Bench]
                                                         ) -> None:
    b = bench_factory()
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await ws.program("A", FLUID)
        b.module("A").inject(Fault.DEAF)  # still heartbeating, no longer hears commands
        with pytest.raises(ChannelError, match="unacknowledged"):
            await ws.start("A")
        alarm = b.alarm("A", "COMMAND_UNACKNOWLEDGED")
        assert alarm is not None and alarm.priority is Priority.HIGH
        rows = b.log_rows(EventKind.COMMAND, channel="A")
        assert any("unacknowledged after 4 tries" in r.message for r in rows)  # 1 + 3 retries
        assert b.module("A").firmware.state is PumpState.IDLE
    finally:
        await b.close()
