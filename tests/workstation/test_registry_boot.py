"""H14: a reboot is seen from the module's boot identity, whichever frame arrives first."""

from __future__ import annotations

from dbc.frames import ModuleHeartbeat, Status
from dbc.registry import ModuleChange, ModuleEvent, ModuleRegistry
from dbc.vocabulary import AlarmCondition, DeliveryMode, ModuleState, PumpState
from tests.bus.frame_samples import heartbeat

BUS, NODE = "can0", 1


def beat(count: int, state: ModuleState = ModuleState.OPERATIONAL) -> ModuleHeartbeat:
    return heartbeat(NODE, state=state, boot_count=count)


def status(count: int, state: PumpState = PumpState.INFUSING) -> Status:
    return Status(node=NODE, state=state, mode=DeliveryMode.PRIMARY, rate_ml_h=120,
                  pressure_mmhg=20, alarms=AlarmCondition(0), boot_count=count & 3)


def changes(events: list[ModuleEvent]) -> list[ModuleChange]:
    return [e.change for e in events]


def known(count: int = 5) -> ModuleRegistry:
    reg = ModuleRegistry(timeout_s=3.0)
    assert changes(reg.on_heartbeat(BUS, beat(count), 0.0)) == [ModuleChange.APPEARED]
    assert reg.on_status(BUS, status(count), 0.1) == []
    return reg


def test_a_status_after_a_reboot_reports_it_before_the_boot_heartbeat() -> None:
    reg = known(5)
    # The module rebooted (count 6); its first Status arrives before its BOOT heartbeat.
    [event] = reg.on_status(BUS, status(6, PumpState.PROGRAMMED), 1.0)
    assert event.change is ModuleChange.REBOOTED and event.previous is not None
    assert reg.on_status(BUS, status(6, PumpState.PROGRAMMED), 1.25) == []
    # The BOOT heartbeat of the same boot is not a second reboot.
    assert reg.on_heartbeat(BUS, beat(6, ModuleState.BOOT), 1.5) == []
    assert reg.on_heartbeat(BUS, beat(6), 2.5) == []


def test_a_boot_heartbeat_first_then_its_status_is_one_reboot() -> None:
    reg = known(5)
    assert changes(reg.on_heartbeat(BUS, beat(6, ModuleState.BOOT), 1.0)) == \
        [ModuleChange.REBOOTED]
    assert reg.on_status(BUS, status(6), 1.25) == []


def test_a_lost_boot_heartbeat_is_made_up_for_by_the_count() -> None:
    reg = known(15)
    assert changes(reg.on_heartbeat(BUS, beat(0), 1.0)) == [ModuleChange.REBOOTED]  # wrapped


def test_a_second_reboot_before_the_heartbeat_is_reported_too() -> None:
    reg = known(5)
    assert changes(reg.on_status(BUS, status(6), 1.0)) == [ModuleChange.REBOOTED]
    assert changes(reg.on_heartbeat(BUS, beat(7, ModuleState.BOOT), 2.0)) == \
        [ModuleChange.REBOOTED]


def test_a_silent_module_that_comes_back_unrebooted_only_returns() -> None:
    reg = known(5)
    assert changes(reg.tick(10.0)) == [ModuleChange.LOST]
    assert reg.on_status(BUS, status(5), 10.5) == []
    assert changes(reg.on_heartbeat(BUS, beat(5), 11.0)) == [ModuleChange.RETURNED]


def test_a_status_never_makes_a_module_appear() -> None:
    reg = ModuleRegistry()
    assert reg.on_status(BUS, status(2), 0.0) == []
    assert reg.get(BUS, NODE) is None
