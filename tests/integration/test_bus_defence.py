"""A bus that defends itself (issue 10), end to end over ``virtual``: an attacker that speaks
only python-can, cantools and its own CRC (never our codec) sends on the workstation's ids
(B2) and a second module answers in a slot (B4). Latencies are printed, not asserted."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import can
import cantools
import pytest

from channels.events import EventKind
from channels.planning import InfusionOrder
from dbc.vocabulary import ModuleKind
from pumps.module import Fault, SimulatedModule
from pumps.rack import PumpRack
from tests.crossprocess.attacker import protect  # its own CRC and data ids, not our codec
from tests.integration.conftest import Bench
from workstation.alarms import Priority


def _load() -> cantools.database.can.database.Database:
    db = cantools.database.load_file("dbc/infusion.dbc")
    assert isinstance(db, cantools.database.can.database.Database)
    return db


DBC = _load()
def forged(name: str, counter: int, **signals: float) -> can.Message:
    message = DBC.get_message_by_name(name)
    values: dict[str, float] = {s.name: 0 for s in message.signals}
    values.update(signals, Crc=0, Counter=counter)
    data = bytearray(message.encode(values, scaling=True, strict=False))
    return can.Message(arbitration_id=message.frame_id,
                       data=protect(data, message.frame_id, counter), is_extended_id=False)


@pytest.mark.parametrize("letter", ["A", "B"])  # volumetric, syringe
async def test_a_forged_command_on_the_workstations_id_is_a_high_alarm(
        bench: Bench, letter: str) -> None:
    """B2: a forged PAUSE on the workstation's own Command id."""
    channel = bench.config.channel(letter)
    settings = bench.config.buses[0].settings()
    with can.Bus(interface="virtual", channel=settings.channel) as attacker:
        sent = time.monotonic()
        attacker.send(forged(f"Pump{channel.slot:02d}_Command", 7, Seq=200, Command=2))
        alarm = await bench.until(
            lambda: next((a for a in bench.api.active_alarms()
                          if a.key.condition == "FOREIGN_SENDER"), None), 5, "FOREIGN_SENDER")
    latency_ms = (time.monotonic() - sent) * 1000
    print(f"B2 detection latency ({letter}): {latency_ms:.0f} ms")
    frame_id = 0x100 + channel.slot
    assert alarm.priority is Priority.HIGH
    assert f"0x{frame_id:03X}" in alarm.text, alarm.text
    events = [r for r in bench.log_rows(EventKind.BUS) if r.data.get("frame_id") == frame_id]
    assert events and events[0].data["condition"] == "FOREIGN_SENDER"


async def test_a_forged_workstation_heartbeat_is_a_high_alarm(bench: Bench) -> None:
    settings = bench.config.buses[0].settings()
    with can.Bus(interface="virtual", channel=settings.channel) as attacker:
        attacker.send(forged("WS_Heartbeat", 3, WsState=0, WsTimeS=12, WsTimeMs=0))
        alarm = await bench.until(
            lambda: next((a for a in bench.api.active_alarms()
                          if a.key.condition == "FOREIGN_SENDER"), None), 5, "FOREIGN_SENDER")
    assert "0x100" in alarm.text


@pytest.mark.parametrize("letter", ["A", "B"])  # volumetric, syringe
async def test_two_modules_in_one_slot_are_their_own_alarm(
        bench: Bench, letter: str) -> None:
    """B4: a second module process answers on an existing node id while the first infuses; the
    channel used to flip INFUSING/IDLE and say "module restarted"."""
    ws = bench.api
    await ws.program(letter, InfusionOrder(drug_id="basic-infusion", rate_ml_h=10.0, vtbi_ml=40.0,
                                           concentration=4 if letter == "A" else 0),
                     confirm=True)
    await ws.start(letter)
    await bench.until(lambda: ws.channel(letter).state == "INFUSING", 3, "infusing")
    channel = bench.config.channel(letter)
    settings = bench.config.buses[0].settings()
    twin = SimulatedModule(channel.slot, ModuleKind[channel.kind.upper()])
    started = time.monotonic()
    async with PumpRack(settings, [twin], speed=bench.speed):
        alarm = await bench.until(lambda: bench.alarm(letter, "DUPLICATE_MODULE"), 10,
                                  "DUPLICATE_MODULE")
        latency_ms = (time.monotonic() - started) * 1000
        print(f"B4 detection latency ({letter}): {latency_ms:.0f} ms")
        states: list[str] = []

        def observe() -> bool:  # 50 polls, 1 s of bus time: the view no longer flips
            states.append(ws.channel(letter).state)
            return len(states) >= 50

        await bench.until(observe, 10, "observed")
    assert alarm.priority is Priority.HIGH
    assert f"two modules answer in slot {channel.slot}" in alarm.text, alarm.text
    flips = sum(a != b for a, b in itertools.pairwise(states))
    assert flips == 0, states
    events = bench.log_rows(EventKind.MODULE, EventKind.BUS, channel=letter)
    assert any("two modules answer" in r.message for r in events)


class DeliveryForger:
    """Listens like any node, and right after the pump's own Delivery sends one with the next
    counter and volume 0 (a valid frame that restarts a naive supervision window)."""

    def __init__(self, channel: str, slot: int, every_s: float) -> None:
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.message = DBC.get_message_by_name(f"Pump{slot:02d}_Delivery")
        self.every_s = every_s
        self.sent = 0
        self._last = 0.0

    async def run(self) -> None:
        while True:
            msg = self.bus.recv(timeout=0)
            if msg is None:
                await asyncio.sleep(0.005)  # the attacker's own pacing, not a synchronisation
                continue
            now = time.monotonic()
            if msg.arbitration_id != self.message.frame_id or now - self._last < self.every_s:
                continue
            counter, module_time = msg.data[1] & 0x0F, int.from_bytes(msg.data[4:8], "little") >> 4
            self.bus.send(forged(self.message.name, (counter + 1) & 0x0F, VolumeInfused=0,
                                 ModuleTime=module_time * 0.01 + 0.01))
            self._last = now
            self.sent += 1


@pytest.mark.parametrize(("letter", "rate", "vtbi", "concentration"), [
    ("A", 100.0, 500.0, 4), ("B", 10.0, 50.0, 0)])
async def test_forged_deliveries_do_not_silence_over_infusion(
        bench_factory: Callable[..., Bench], letter: str, rate: float, vtbi: float,
        concentration: int) -> None:
    """B3: a forged Delivery now and then (volume 0, next counter) restarted the supervision
    window: a 30 %-fast pump's over-infusion stayed silent. Now each is dropped and alarmed."""
    b = bench_factory(speed=600)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await ws.program(letter, InfusionOrder(drug_id="basic-infusion", rate_ml_h=rate,
                                               vtbi_ml=vtbi, concentration=concentration),
                         confirm=True)
        await ws.start(letter)
        await b.until(lambda: ws.channel(letter).state == "INFUSING", 3, "infusing")
        b.module(letter).inject(Fault.CALIBRATION, 30)
        channel = b.config.channel(letter)
        forger = DeliveryForger(b.config.buses[0].settings().channel, channel.slot, 1.0)
        task = asyncio.create_task(forger.run())
        try:
            await b.until(lambda: b.alarm(letter, "OVER_INFUSION"), 15, "over-infusion")
        finally:
            task.cancel()
            forger.bus.shutdown()
        assert forger.sent >= 1
        implausible = b.alarm(letter, "IMPLAUSIBLE_DELIVERY")
        assert implausible is not None and implausible.priority is Priority.HIGH
        assert "went back" in implausible.text
    finally:
        await b.close()


@pytest.mark.parametrize("letter", ["A", "B"])  # volumetric, syringe
async def test_alarms_shown_at_a_stop_are_shown_after_the_restart(
        bench_factory: Callable[..., Bench], letter: str) -> None:
    """B6: a restart dropped the active alarms; now they come back, marked as restored."""
    b = bench_factory()
    try:
        await b.start_pumps()
        await b.start_workstation()
        slot = b.config.channel(letter).slot
        with can.Bus(interface="virtual", channel=b.config.buses[0].settings().channel) as bus:
            bus.send(forged(f"Pump{slot:02d}_Command", 5, Seq=9, Command=2))
            await b.until(lambda: b.alarm("WS", "FOREIGN_SENDER"), 5, "FOREIGN_SENDER")
        await b.stop_workstation()
        await b.start_workstation()
        alarm = await b.until(lambda: b.alarm("WS", "FOREIGN_SENDER"), 5, "restored alarm")
        assert "restored after a workstation restart" in alarm.text
        assert f"0x{0x100 + slot:03X}" in alarm.text
        assert alarm.priority is Priority.HIGH and not alarm.acknowledged
        b.api.acknowledge(alarm.id)
        await b.until(lambda: b.alarm("WS", "FOREIGN_SENDER") is None, 5, "acknowledged away")
        await b.stop_workstation()
        await b.start_workstation()  # acknowledged before the stop: not shown again
        assert b.alarm("WS", "FOREIGN_SENDER") is None
    finally:
        await b.close()


@pytest.mark.parametrize("letter", ["A", "B"])  # volumetric, syringe
async def test_another_serial_in_a_slot_after_a_restart_is_an_identity_alarm(
        bench_factory: Callable[..., Bench], letter: str) -> None:
    """A slot's serial is remembered across workstation restarts (event log)."""
    b = bench_factory()
    try:
        await b.start_pumps()
        await b.start_workstation()
        await b.stop_workstation()
        channel = b.config.channel(letter)
        rack = next(r for r in b.racks if channel.slot in r.modules)
        await rack.__aexit__(None, None, None)  # the module is swapped while nobody watches
        others = [SimulatedModule(m.node, m.firmware.identity.kind)
                  for m in rack.modules.values() if m.node != channel.slot]
        swapped = SimulatedModule(channel.slot, ModuleKind[channel.kind.upper()], serial=424_242)
        b.racks = [PumpRack(b.config.buses[0].settings(), [*others, swapped], speed=b.speed)]
        await b.racks[0].__aenter__()
        await b.start_workstation()
        alarm = await b.until(lambda: b.alarm(letter, "MODULE_IDENTITY_CHANGED"), 5,
                              "identity alarm")
        assert "424242" in alarm.text and alarm.priority is Priority.HIGH
        assert b.alarm(letter, "MODULE_KIND_CHANGED") is None
    finally:
        await b.close()


@pytest.mark.parametrize("letter", ["A", "B"])  # volumetric, syringe
async def test_a_forged_status_rate_is_not_shown(bench: Bench, letter: str) -> None:
    """B3: a forged Status (next counter, right CRC) said 999 mL/h and the card showed it."""
    ws = bench.api
    await ws.program(letter, InfusionOrder(drug_id="basic-infusion", rate_ml_h=40.0, vtbi_ml=40.0,
                                           concentration=4 if letter == "A" else 0),
                     confirm=True)
    await ws.start(letter)
    await bench.until(lambda: ws.channel(letter).state == "INFUSING", 3, "infusing")
    fw = bench.module(letter).firmware
    t0 = fw.module_time_s  # a steady history first: 1 s of statuses that agree with the program
    await bench.until(lambda: fw.module_time_s - t0 > bench.speed, 5, "steady statuses")
    slot = bench.config.channel(letter).slot
    message = DBC.get_message_by_name(f"Pump{slot:02d}_Status")
    shown: list[float | None] = []

    def observe() -> bool:  # 10 polls (200 ms): what the card shows meanwhile
        shown.append(ws.channel(letter).rate_ml_h)
        return len(shown) % 10 == 0
    with can.Bus(interface="virtual", channel=bench.config.buses[0].settings().channel) as bus:
        async def forge_one() -> None:
            while (msg := bus.recv(timeout=0)) is None or \
                    msg.arbitration_id != message.frame_id:
                await asyncio.sleep(0.005)  # the attacker's pacing
            data = bytearray(msg.data)
            raw = int.from_bytes(data, "little")
            raw = (raw & ~(0x3FFF << 18)) | (9990 << 18)  # ActualRate 999.0 mL/h
            data = bytearray(raw.to_bytes(8, "little"))
            next_counter = (data[1] + 1) & 0x0F
            bus.send(can.Message(arbitration_id=message.frame_id,
                                 data=protect(data, message.frame_id, next_counter),
                                 is_extended_id=False))

        for _ in range(3):  # now and then, between the pump's own statuses
            await forge_one()
            await bench.until(observe, 5, "observed")
        alarm = await bench.until(lambda: bench.alarm(letter, "IMPLAUSIBLE_DELIVERY"), 5,
                                  "IMPLAUSIBLE_DELIVERY")
    assert "999" in alarm.text and alarm.priority is Priority.HIGH
    assert 999.0 not in shown
    assert ws.channel(letter).state == "INFUSING"


@pytest.mark.parametrize("letter", ["A", "B"])  # volumetric, syringe
async def test_after_the_duplicate_left_the_view_follows_the_real_module(
        bench: Bench, letter: str) -> None:
    """B4, after the duplicate: a second module answered in the slot for a while, then left.
    The workstation kept dropping the real module's Status (the twin's identity and counter
    sequence held the slot) and showed INFUSING while the pump was PAUSED."""
    ws = bench.api
    await ws.program(letter, InfusionOrder(drug_id="basic-infusion", rate_ml_h=10.0, vtbi_ml=40.0,
                                           concentration=4 if letter == "A" else 0),
                     confirm=True)
    await ws.start(letter)
    await bench.until(lambda: ws.channel(letter).state == "INFUSING", 3, "infusing")
    channel = bench.config.channel(letter)
    settings = bench.config.buses[0].settings()
    rack = next(r for r in bench.racks if channel.slot in r.modules)
    twin = SimulatedModule(channel.slot, ModuleKind[channel.kind.upper()])
    heard = len(rack.conflicts)
    async with PumpRack(settings, [twin], speed=bench.speed):
        await bench.until(lambda: bench.alarm(letter, "DUPLICATE_MODULE"), 10,
                          "DUPLICATE_MODULE")
        await bench.until(lambda: any("ended" not in t for t in rack.conflicts[heard:]), 10,
                          "the real module heard the twin")
        seen = bench.module(letter).firmware.module_time_s
        await bench.until(lambda: bench.module(letter).firmware.module_time_s - seen >
                          2 * bench.speed, 10, "two seconds of both modules")
    await bench.until(lambda: any("ended" in t for t in rack.conflicts[heard:]), 10,
                      "the real module's conflict ended (its commands accepted again)")
    duplicate = bench.alarm(letter, "DUPLICATE_MODULE")
    if duplicate is not None:
        ws.acknowledge(duplicate.id)
    await ws.pause(letter)
    assert bench.module(letter).firmware.state.name == "PAUSED"
    await bench.until(lambda: ws.channel(letter).state == "PAUSED", 5,
                      "the workstation shows the real module PAUSED")
    await bench.until(lambda: bench.alarm(letter, "DUPLICATE_MODULE") is None, 15,
                      "DUPLICATE_MODULE gone once one identity alone was heard")
