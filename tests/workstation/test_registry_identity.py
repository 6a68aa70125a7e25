"""Two modules in one slot and a slot's remembered serial (issue 10, B4): pure registry."""

from __future__ import annotations

from dbc.frames import ModuleHeartbeat, Status
from dbc.registry import ModuleChange, ModuleEvent, ModuleRegistry
from dbc.vocabulary import AlarmCondition, DeliveryMode, ModuleState, PumpState
from tests.bus.frame_samples import heartbeat

BUS = "icu"


def beat(count: int, serial: int = 100_001,
         state: ModuleState = ModuleState.OPERATIONAL) -> ModuleHeartbeat:
    return heartbeat(1, state=state, serial=serial, boot_count=count)


def status(count: int) -> Status:
    return Status(node=1, state=PumpState.INFUSING, mode=DeliveryMode.PRIMARY, rate_ml_h=40.0,
                  pressure_mmhg=20, alarms=AlarmCondition(0), boot_count=count & 3)


def changes(events: list[ModuleEvent]) -> list[ModuleChange]:
    return [e.change for e in events]


def test_alternating_boot_identities_are_two_modules_reported_once() -> None:
    """B4: two processes on one node id; the channel used to flip and say "restarted"."""
    reg = ModuleRegistry()
    seen: list[ModuleChange] = []
    for i in range(20):
        seen += changes(reg.on_heartbeat(BUS, beat(5 if i % 2 == 0 else 9), i * 0.5))
        seen += changes(reg.on_status(BUS, status(5 if i % 2 == 0 else 9), i * 0.5 + 0.1))
    assert seen.count(ModuleChange.DUPLICATE) == 1
    assert seen.count(ModuleChange.REBOOTED) <= 2  # before the second identity came back
    assert reg.duplicate(BUS, 1, 10.0)
    info = reg.get(BUS, 1)
    assert info is not None and info.online


def test_alternating_serials_are_two_modules_not_repeated_swaps() -> None:
    reg = ModuleRegistry()
    seen: list[ModuleChange] = []
    for i in range(10):
        seen += changes(reg.on_heartbeat(BUS, beat(3, serial=100_001 + i % 2), i * 0.5))
    assert seen.count(ModuleChange.DUPLICATE) == 1
    assert seen.count(ModuleChange.KIND_CHANGED) <= 1


def test_the_duplicate_event_names_the_slot_and_both_serials() -> None:
    reg = ModuleRegistry()
    events: list[ModuleEvent] = []
    for i in range(4):
        events += reg.on_heartbeat(BUS, beat(3, serial=100_001 + i % 2), i * 0.5)
    dup = next(e for e in events if e.change is ModuleChange.DUPLICATE)
    text = dup.describe()
    assert "slot 1" in text and "two modules answer" in text
    assert "100001" in text and "100002" in text


def test_a_reboot_is_not_a_duplicate() -> None:
    reg = ModuleRegistry()
    seen: list[ModuleChange] = []
    for i, count in enumerate([5, 5, 5, 6, 6, 6, 7, 7]):
        state = ModuleState.BOOT if i in (3, 6) else ModuleState.OPERATIONAL
        seen += changes(reg.on_heartbeat(BUS, beat(count, state=state), i * 1.0))
    assert seen == [ModuleChange.APPEARED, ModuleChange.REBOOTED, ModuleChange.REBOOTED]


def test_the_duplicate_ends_when_the_twin_is_quiet() -> None:
    reg = ModuleRegistry()
    for i in range(6):
        reg.on_heartbeat(BUS, beat(5 if i % 2 == 0 else 9), i * 0.5)
    assert reg.duplicate(BUS, 1, 3.0)
    assert not reg.duplicate(BUS, 1, 30.0)


def test_another_serial_than_the_remembered_one_is_an_identity_change() -> None:
    reg = ModuleRegistry()
    reg.remember_serial(BUS, 1, 100_777)
    events = reg.on_heartbeat(BUS, beat(2), 0.0)
    assert changes(events) == [ModuleChange.APPEARED, ModuleChange.IDENTITY_CHANGED]
    assert events[1].previous is not None and events[1].previous.serial == 100_777
    same = ModuleRegistry()
    same.remember_serial(BUS, 1, 100_001)
    assert changes(same.on_heartbeat(BUS, beat(2), 0.0)) == [ModuleChange.APPEARED]


def test_after_the_twin_left_the_slot_follows_the_module_that_stayed() -> None:
    """B4, after the duplicate: the twin's BOOT took over the slot's identity, so every later
    heartbeat of the real module still differed from it and kept the slot "answered by two"
    for ever (its Status never taken again). Once one identity alone is heard, the episode ends,
    that module is the slot's again, and it is no reboot; a real reboot later still is."""
    reg = ModuleRegistry()
    seen: list[ModuleChange] = []
    seen += changes(reg.on_heartbeat(BUS, beat(5), 0.0))
    seen += changes(reg.on_heartbeat(BUS, beat(9, state=ModuleState.BOOT), 0.5))  # the twin
    t = 1.0
    for i in range(10):
        seen += changes(reg.on_heartbeat(BUS, beat(5 if i % 2 == 0 else 9), t))
        t += 0.5
    assert ModuleChange.DUPLICATE in seen and reg.duplicate(BUS, 1, t)
    seen = []
    for _ in range(10):  # the twin left: the real module alone, heartbeat and status
        t += 1.0
        seen += changes(reg.on_heartbeat(BUS, beat(5), t))
        seen += changes(reg.on_status(BUS, status(5), t + 0.25))
    assert not reg.duplicate(BUS, 1, t)
    assert ModuleChange.REBOOTED not in seen and ModuleChange.DUPLICATE not in seen, seen
    info = reg.get(BUS, 1)
    assert info is not None and info.online
    t += 1.0
    assert changes(reg.on_heartbeat(BUS, beat(6, state=ModuleState.BOOT), t)) == \
        [ModuleChange.REBOOTED]
