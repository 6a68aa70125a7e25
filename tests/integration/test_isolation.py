"""Isolation end to end over ``virtual`` (issue 9 H6/H7, issue 14 H13): one failure ends one
command or raises one alarm; supervision of every other channel goes on.

A software bug is injected by replacing one method of one live object (the registry's tick or
heartbeat handler): the only way to get a bug without writing one into the product.
"""

from __future__ import annotations

import pytest

from channels.controller import ChannelError
from channels.events import EventKind
from channels.plan import Plan
from channels.planning import InfusionOrder
from dbc.frames import ModuleHeartbeat
from dbc.registry import ModuleEvent
from dbc.vocabulary import EndAction
from pumps.module import Fault
from tests.integration.conftest import Bench
from workstation.alarms import Priority
from workstation.command_errors import CommandAbandoned, CommandNotSent

# What each module kind can take (A volumetric: a bag; B syringe: a syringe concentration).
ORDERS = {"A": InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=20, vtbi_ml=100),
          "B": InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50)}
# Slips past planning (which refuses it): the DBC's KvoRate carries at most 20 mL/h.
BAD_KVO = Plan(drug_id="fentanyl", drug_name="Fentanyl", rate_ml_h=2, vtbi_ml=20,
               end_action=EndAction.STOP, kvo_ml_h=25)
BOTH = pytest.mark.parametrize(("bad", "good"), [("A", "B"), ("B", "A")],
                               ids=["volumetric", "syringe"])
LETTERS = pytest.mark.parametrize("letter", ["A", "B"], ids=["volumetric", "syringe"])


async def comm_lost(bench: Bench, letter: str) -> None:
    bench.module(letter).inject(Fault.SILENT)
    alarm = await bench.until(lambda: bench.alarm(letter, "COMM_LOST"), 8,
                              f"{letter} COMM_LOST (the tick still runs)")
    assert alarm.priority is Priority.HIGH


@LETTERS
async def test_a_tick_task_that_dies_is_a_high_alarm_and_is_restarted(
        bench: Bench, letter: str) -> None:
    registry = bench.api.supervisor.registry
    original, failed = registry.tick, list[float]()

    def tick_failing_once(now: float) -> list[ModuleEvent]:
        if not failed:
            failed.append(now)
            raise RuntimeError("registry bug")
        return original(now)

    registry.tick = tick_failing_once  # type: ignore[method-assign]
    alarm = await bench.until(lambda: bench.alarm("WS", "TASK_FAILED"), 5, "TASK_FAILED")
    assert alarm.priority is Priority.HIGH and "tick" in alarm.text
    assert "registry bug" in alarm.text
    rows = bench.log_rows(EventKind.SYSTEM)
    assert any("task tick failed" in r.message and r.data.get("traceback") for r in rows)
    await comm_lost(bench, letter)


async def test_a_receive_handler_failure_is_an_alarm_and_an_event(bench: Bench) -> None:
    registry = bench.api.supervisor.registry
    original, failed = registry.on_heartbeat, list[float]()

    def heartbeat_failing_once(bus: str, beat: ModuleHeartbeat,
                               now: float) -> list[ModuleEvent]:
        if not failed:
            failed.append(now)
            raise RuntimeError("heartbeat handler bug")
        return original(bus, beat, now)

    registry.on_heartbeat = heartbeat_failing_once  # type: ignore[method-assign]
    alarm = await bench.until(lambda: bench.alarm("WS", "RECEIVE_FAILED"), 5,
                              "RECEIVE_FAILED")
    assert alarm.priority is Priority.HIGH and "heartbeat handler bug" in alarm.text
    assert any("not processed" in r.message for r in bench.log_rows(EventKind.BUS))
    await comm_lost(bench, "A")


@BOTH
async def test_an_order_the_bus_cannot_carry_ends_that_command_only(
        bench: Bench, bad: str, good: str) -> None:
    ws = bench.api
    await ws.program(good, ORDERS[good])
    await ws.start(good)
    controller = ws.supervisor.controllers[bad]
    with pytest.raises(CommandNotSent, match="KvoRate") as caught:
        await ws._run(bad, controller.load(BAD_KVO, ws.supervisor.clock()))
    assert isinstance(caught.value, ChannelError)
    alarm = await bench.until(lambda: bench.alarm(bad, "COMMAND_NOT_SENT"), 2, "alarm")
    assert alarm.priority is Priority.HIGH
    assert any("not sent" in r.message for r in bench.log_rows(EventKind.COMMAND, channel=bad))
    # The channel itself still works, and so does everyone else's supervision.
    await ws.program(bad, ORDERS[bad])
    await comm_lost(bench, good)
    assert bench.alarm("WS", "TASK_FAILED") is None


@LETTERS
async def test_a_command_in_flight_when_the_module_goes_silent_ends_abandoned(
        bench: Bench, letter: str) -> None:
    # Issue 14: "program A; start; module A silent; wait 1.5 s; pause A" raised a bare
    # TimeoutError 3 s later, which the UI did not catch.
    ws = bench.api
    await ws.program(letter, ORDERS[letter])
    await ws.start(letter)
    sup = ws.supervisor
    controller = sup.controllers[letter]
    bench.module(letter).inject(Fault.SILENT)
    info = sup.registry.get(controller.config.bus, controller.node)
    assert info is not None
    await bench.until(lambda: sup.clock() - info.last_seen > 1.5, 3, "1.5 s of silence")
    with pytest.raises(ChannelError) as caught:
        await ws.pause(letter)
    # Lost before the retries ran out (not the ack timeout, not a read of "offline" first).
    assert isinstance(caught.value, CommandAbandoned), repr(caught.value)
    assert not controller.online
