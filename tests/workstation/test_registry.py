"""Module discovery from heartbeats: appear, lose, return, reboot, swap, safe state."""

from __future__ import annotations

from dbc.frames import ModuleHeartbeat
from dbc.registry import ModuleChange, ModuleRegistry
from dbc.vocabulary import ModuleKind, ModuleState
from tests.bus.frame_samples import heartbeat


def beat(node: int = 3, *, state: ModuleState = ModuleState.OPERATIONAL,
         kind: ModuleKind = ModuleKind.SYRINGE, serial: int = 1234) -> ModuleHeartbeat:
    return heartbeat(node, kind=kind, state=state, serial=serial, firmware=(1, 2, 3))


def changes(events: list) -> list[ModuleChange]:  # type: ignore[type-arg]
    return [e.change for e in events]


def test_first_heartbeat_appears_then_nothing_new() -> None:
    reg = ModuleRegistry(timeout_s=3.0)
    [event] = reg.on_heartbeat("can0", beat(), 0.0)
    assert event.change is ModuleChange.APPEARED and event.info.firmware == "1.2.3"
    assert reg.on_heartbeat("can0", beat(), 1.0) == []
    assert "slot 3 on can0" in event.describe() and "syringe" in event.describe()


def test_lost_after_the_timeout_only_once_then_returns() -> None:
    reg = ModuleRegistry(timeout_s=3.0)
    reg.on_heartbeat("can0", beat(), 0.0)
    assert reg.tick(3.0) == []  # exactly at the timeout: not yet
    assert changes(reg.tick(3.1)) == [ModuleChange.LOST]
    assert reg.tick(10.0) == []
    info = reg.get("can0", 3)
    assert info is not None and not info.online
    assert changes(reg.on_heartbeat("can0", beat(), 11.0)) == [ModuleChange.RETURNED]


def test_reboot_swap_and_safe_state() -> None:
    reg = ModuleRegistry()
    reg.on_heartbeat("can0", beat(), 0.0)
    assert changes(reg.on_heartbeat("can0", beat(state=ModuleState.BOOT), 1.0)) == \
        [ModuleChange.REBOOTED]
    swapped = reg.on_heartbeat("can0", beat(kind=ModuleKind.VOLUMETRIC, serial=99), 2.0)
    assert changes(swapped) == [ModuleChange.KIND_CHANGED]
    assert "replaced by volumetric module" in swapped[0].describe()
    assert changes(reg.on_heartbeat("can0", beat(state=ModuleState.SAFE_STATE,
                                                 kind=ModuleKind.VOLUMETRIC, serial=99), 3.0)) \
        == [ModuleChange.SAFE_STATE]
    assert reg.on_heartbeat("can0", beat(state=ModuleState.SAFE_STATE,
                                         kind=ModuleKind.VOLUMETRIC, serial=99), 4.0) == []


def test_same_slot_on_two_buses_are_two_modules() -> None:
    reg = ModuleRegistry()
    reg.on_heartbeat("can0", beat(), 0.0)
    assert changes(reg.on_heartbeat("can1", beat(), 0.0)) == [ModuleChange.APPEARED]
    assert len(reg.modules) == 2
