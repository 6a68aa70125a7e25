"""Alarm catalog: every module bit has a meaning; priorities follow the issue and IEC 60601-2-24."""

from __future__ import annotations

import pytest

from dbc.vocabulary import STOPPING_CONDITIONS
from dbc.vocabulary import AlarmCondition as A
from workstation.alarm_catalog import (
    WORKSTATION_CONDITIONS,
    ConditionInfo,
    condition_info,
    module_condition_info,
    module_conditions_info,
)
from workstation.alarms import AlarmKey, AlarmSystem, Priority

HIGH, MEDIUM, LOW, INFO = Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.INFO


def all_infos() -> list[ConditionInfo]:
    module = [module_condition_info(b, infusing=i) for b in A for i in (False, True)]
    return module + list(WORKSTATION_CONDITIONS.values())


@pytest.mark.parametrize("infusing", [False, True])
def test_every_module_condition_has_info(infusing: bool) -> None:
    for bit in A:
        info = module_condition_info(bit, infusing=infusing)
        assert info.condition == bit.name
        assert isinstance(info.priority, Priority)


def test_texts_short_and_plain() -> None:
    for info in all_infos():
        assert info.text.strip() == info.text
        assert 0 < len(info.text) <= 60, info


def test_door_open_depends_on_infusing() -> None:
    running = module_condition_info(A.DOOR_OPEN, infusing=True)
    idle = module_condition_info(A.DOOR_OPEN, infusing=False)
    assert (running.priority, running.stops_infusion, running.latching) == (HIGH, True, True)
    assert (idle.priority, idle.stops_infusion, idle.latching) == (MEDIUM, False, False)


def test_infusion_complete_text_follows_kvo() -> None:
    assert "KVO" in module_condition_info(A.INFUSION_COMPLETE, infusing=True).text
    assert "KVO" not in module_condition_info(A.INFUSION_COMPLETE, infusing=False).text


@pytest.mark.parametrize("infusing", [False, True])
def test_module_priorities_per_issue(infusing: bool) -> None:
    expected = {
        HIGH: {A.OCCLUSION_DOWNSTREAM, A.OCCLUSION_UPSTREAM, A.AIR_IN_LINE, A.AIR_ACCUMULATED,
               A.CONTAINER_EMPTY, A.SYRINGE_END, A.SYRINGE_NOT_ENGAGED, A.BATTERY_DEPLETED,
               A.HARDWARE_FAULT, A.OVER_TEMPERATURE},
        MEDIUM: {A.SYRINGE_NEAR_END, A.BATTERY_LOW, A.CALLBACK, A.HOLD_EXPIRED,
                 A.WS_HEARTBEAT_LOST},
        LOW: {A.INFUSION_COMPLETE, A.NEAR_END},
        INFO: {A.ON_BATTERY},
    }
    expected[HIGH if infusing else MEDIUM].add(A.DOOR_OPEN)
    got: dict[Priority, set[A]] = {p: set() for p in Priority}
    for bit in A:
        got[module_condition_info(bit, infusing=infusing).priority].add(bit)
    assert got == expected


def test_end_of_infusion_is_never_an_emergency() -> None:
    # Alarm fatigue: KVO / end of infusion are the top nuisance alarms.
    for bit in (A.INFUSION_COMPLETE, A.NEAR_END):
        for infusing in (False, True):
            assert module_condition_info(bit, infusing=infusing).priority is LOW


def test_stops_infusion_matches_vocabulary_while_infusing() -> None:
    for bit in A:
        info = module_condition_info(bit, infusing=True)
        assert info.stops_infusion == bool(bit & STOPPING_CONDITIONS), bit


def test_every_stopping_condition_is_high_and_latching() -> None:
    for info in all_infos():
        if info.stops_infusion:
            assert info.priority is HIGH, info
        if info.priority is HIGH:
            assert info.latching, info


@pytest.mark.parametrize("bits", [A(0), A.AIR_IN_LINE | A.DOOR_OPEN, 1 << 19])
def test_module_condition_info_wants_one_known_bit(bits: int) -> None:
    with pytest.raises(ValueError):
        module_condition_info(A(bits), infusing=True)


def test_module_conditions_info_splits_status_bits() -> None:
    infos = module_conditions_info(A.ON_BATTERY | A.AIR_IN_LINE | A.DOOR_OPEN, infusing=False)
    assert [i.condition for i in infos] == ["AIR_IN_LINE", "DOOR_OPEN", "ON_BATTERY"]
    assert module_conditions_info(A(0), infusing=True) == []


def test_workstation_conditions_per_issue() -> None:
    expected = {
        "COMM_LOST": HIGH, "COMMAND_UNACKNOWLEDGED": HIGH, "COMMAND_REJECTED": MEDIUM,
        "PROGRAM_MISMATCH": HIGH, "OVER_INFUSION": MEDIUM, "UNDER_INFUSION": MEDIUM,
        "MODULE_KIND_CHANGED": HIGH, "UNEXPECTED_MODULE": LOW, "BUS_ERROR": HIGH,
        "E2E_ERRORS": MEDIUM, "CONFIG_ERROR": HIGH, "TELEMETRY_BACKLOG": LOW,
        "TELEMETRY_DROPPING": MEDIUM, "EVENT_LOG_ERROR": HIGH,
    }
    for name, priority in expected.items():
        assert WORKSTATION_CONDITIONS[name].priority is priority, name
    assert WORKSTATION_CONDITIONS["COMM_LOST"].text == "Channel communication lost"
    assert WORKSTATION_CONDITIONS["BUS_ERROR"].text == "CAN bus failure"
    assert WORKSTATION_CONDITIONS["E2E_ERRORS"].text == "Corrupted frames on the bus"
    assert not WORKSTATION_CONDITIONS["COMMAND_REJECTED"].latching
    assert WORKSTATION_CONDITIONS["PROGRAM_MISMATCH"].stops_infusion


def test_workstation_names_are_keys_and_distinct_from_module_bits() -> None:
    module_names = {b.name for b in A}
    for name, info in WORKSTATION_CONDITIONS.items():
        assert info.condition == name
        assert name not in module_names
        AlarmKey("WS", name)  # a valid key condition


def test_condition_info_lookup() -> None:
    assert condition_info("COMM_LOST") is WORKSTATION_CONDITIONS["COMM_LOST"]
    assert condition_info("DOOR_OPEN", infusing=True).priority is HIGH
    assert condition_info("DOOR_OPEN").priority is MEDIUM
    with pytest.raises(KeyError):
        condition_info("NO_SUCH_THING")


def test_catalog_feeds_the_alarm_system() -> None:
    system = AlarmSystem()
    for i, bit in enumerate(A):
        info = module_condition_info(bit, infusing=True)
        system.raise_(AlarmKey("B", info.condition), info.priority, info.text, float(i),
                      latching=info.latching)
    shown = system.active()
    assert len(shown) == len(list(A))
    assert shown[0].priority is HIGH and shown[-1].priority is INFO
    assert system.indicator(100.0).text == "B: Occlusion downstream — check line and clamps"
