"""What each alarm condition means for the nurse: priority, text, latching, effect.

Priorities follow IEC 60601-2-24 (occlusion, air and other flow-stopping conditions are
HIGH) and the alarm-fatigue notes: end of infusion and KVO are LOW, pre-alarms are LOW or
MEDIUM, and only an ignored alarm climbs (see ``AlarmSystem`` escalation). HIGH conditions
latch: the nurse must see that flow stopped even if the cause went away by itself.
Texts are short (<= 60 characters) and say what to check.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.conditions import FLOW_STOPPING, ChannelCondition
from dbc.vocabulary import STOPPING_CONDITIONS, AlarmCondition
from workstation.alarms import Priority

__all__ = [
    "WORKSTATION_CONDITIONS",
    "ConditionInfo",
    "condition_info",
    "module_condition_info",
    "module_conditions_info",
]

HIGH, MEDIUM, LOW, INFO = Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.INFO


@dataclass(frozen=True)
class ConditionInfo:
    condition: str  # the AlarmKey.condition: an AlarmCondition name or a workstation name
    priority: Priority
    text: str
    latching: bool
    stops_infusion: bool  # the channel's flow has stopped (module) or must be stopped (controller)


A = AlarmCondition

# condition -> (priority, text, latching); DOOR_OPEN and INFUSION_COMPLETE depend on infusing.
_MODULE: dict[AlarmCondition, tuple[Priority, str, bool]] = {
    A.OCCLUSION_DOWNSTREAM: (HIGH, "Occlusion downstream — check line and clamps", True),
    A.OCCLUSION_UPSTREAM: (HIGH, "Occlusion upstream — check container and spike", True),
    A.AIR_IN_LINE: (HIGH, "Air in line", True),
    A.AIR_ACCUMULATED: (HIGH, "Accumulated air in line", True),
    A.DOOR_OPEN: (MEDIUM, "Door open — close door to start", False),
    A.CONTAINER_EMPTY: (HIGH, "Container empty", True),
    A.SYRINGE_NEAR_END: (MEDIUM, "Syringe near end — prepare next syringe", False),
    A.SYRINGE_END: (HIGH, "Syringe empty", True),
    A.SYRINGE_NOT_ENGAGED: (HIGH, "Syringe not engaged — check plunger and clamp", True),
    A.BATTERY_LOW: (MEDIUM, "Battery low — connect to mains", False),
    A.BATTERY_DEPLETED: (HIGH, "Battery depleted — connect to mains now", True),
    # Latching: the module reports it once contact is back; the nurse must still learn
    # that the pump ran unsupervised for a while.
    A.WS_HEARTBEAT_LOST: (MEDIUM, "Pump lost workstation contact — ran unsupervised", True),
    A.INFUSION_COMPLETE: (LOW, "Infusion complete — pump stopped", False),
    A.NEAR_END: (LOW, "Infusion near end", False),
    A.CALLBACK: (MEDIUM, "Secondary complete — callback", False),
    A.HARDWARE_FAULT: (HIGH, "Pump hardware fault — replace module", True),
    A.ON_BATTERY: (INFO, "Running on battery", False),
    A.HOLD_EXPIRED: (MEDIUM, "Paused too long — restart or stop", False),
    A.OVER_TEMPERATURE: (HIGH, "Pump overheating — replace module", True),
}

_DOOR_OPEN_INFUSING = (HIGH, "Door opened during infusion — check line", True)
_COMPLETE_KVO = (LOW, "Infusion complete — KVO running", False)


def module_condition_info(bit: AlarmCondition, *, infusing: bool) -> ConditionInfo:
    """Meaning of one alarm bit reported by a pump module.

    ``infusing``: the motor is delivering (INFUSING or KVO). An open door only stops flow
    (HIGH) while infusing; otherwise it just blocks the start (MEDIUM).
    """
    bit = AlarmCondition(bit)
    entry = _MODULE.get(bit)
    if entry is None:
        raise ValueError(f"not a single alarm condition: {bit!r}")
    stops = bool(bit & STOPPING_CONDITIONS)
    if bit is A.DOOR_OPEN:
        entry, stops = (_DOOR_OPEN_INFUSING, True) if infusing else (entry, False)
    elif bit is A.INFUSION_COMPLETE and infusing:
        entry = _COMPLETE_KVO
    priority, text, latching = entry
    return ConditionInfo(bit.name or str(int(bit)), priority, text, latching, stops)


def module_conditions_info(bits: AlarmCondition, *, infusing: bool) -> list[ConditionInfo]:
    """Info for every bit set in ``bits`` (e.g. Status.AlarmBits), lowest bit first."""
    return [module_condition_info(bit, infusing=infusing) for bit in AlarmCondition
            if bit & bits]


def _ws(
    condition: str, priority: Priority, text: str, *, latching: bool | None = None,
) -> ConditionInfo:
    latch = priority is HIGH if latching is None else latching
    # Which conditions stop the flow is the channel's knowledge (channels.conditions).
    return ConditionInfo(condition, priority, text, latch, condition in FLOW_STOPPING)


# Conditions the workstation raises itself. Key source: the channel letter for the
# per-channel ones, "WS" for the bus- and workstation-wide ones (noted "WS").
WORKSTATION_CONDITIONS: dict[str, ConditionInfo] = {
    info.condition: info
    for info in (
        _ws("COMM_LOST", HIGH, "Channel communication lost"),
        _ws("COMMAND_UNACKNOWLEDGED", HIGH, "Pump did not confirm command"),
        _ws("COMMAND_REJECTED", MEDIUM, "Pump rejected command", latching=False),
        # Read-back differs from what the nurse confirmed: never let it run.
        _ws("PROGRAM_MISMATCH", HIGH, "Pump program differs from what was sent"),
        _ws("PROGRAM_PENDING", LOW, "Program not started — start or cancel"),  # GIP reminder
        _ws("OVER_INFUSION", MEDIUM, "Over-infusion — check pump and line"),
        _ws("UNDER_INFUSION", MEDIUM, "Under-infusion — check pump and line"),
        _ws("MODULE_KIND_CHANGED", HIGH, "Different pump type in slot — reprogram"),
        _ws("MODULE_SAFE_STATE", HIGH, "Pump in safe state — replace module"),
        # The module rebooted: whatever it was running has stopped.
        _ws("MODULE_RESTARTED", HIGH, "Pump module restarted — check program"),
        # No silent stop (issue 14): the module stopped or changed rate with no command from
        # the workstation and no alarm condition of its own to explain it.
        _ws("UNCOMMANDED_STOP", HIGH, "Pump stopped without a command — check the pump"),
        _ws("UNCOMMANDED_RATE", HIGH, "Pump rate differs from the program — check pump"),
        # A configured channel whose module is not heard: nobody watches that line.
        _ws("NO_MODULE", HIGH, "No pump module answering — check the module"),
        # Isolation (issue 9, H6/H13): one channel's failure is that channel's alarm only.
        _ws("CHANNEL_FAULT", HIGH, "Channel supervision failed — check pump, reprogram"),
        _ws("COMMAND_NOT_SENT", HIGH, "Command not sent to the pump — check and reprogram"),
        # H5: stopped by an alarm, acknowledged, and still stopped: therapy is interrupted.
        _ws("STOPPED_IN_ALARM", HIGH, "Stopped after an alarm — restart or stop channel"),
        _ws("TASK_FAILED", HIGH, "Workstation task failed — restarting it"),  # WS
        _ws("RECEIVE_FAILED", HIGH, "Received frames not processed — check workstation"),  # WS
        _ws("UNEXPECTED_MODULE", LOW, "Unexpected pump module on bus"),
        _ws("BUS_ERROR", HIGH, "CAN bus failure"),  # WS
        _ws("E2E_ERRORS", MEDIUM, "Corrupted frames on the bus"),  # WS
        # The CAN controller and the bus load (issue 10, B7; workstation.bus_health).
        _ws("CAN_ERROR_PASSIVE", MEDIUM, "CAN controller error-passive — check bus wiring"),  # WS
        _ws("CAN_BUS_OFF", HIGH, "CAN controller bus-off — pumps not heard"),  # WS
        _ws("BUS_BABBLING", MEDIUM, "A node floods the CAN bus — check modules"),  # WS
        # Issue 10 (dbc/README.md, "Intrusion, duplicates and plausibility"): someone else
        # speaks on the bus; what the channel shows may not be what the pump does.
        _ws("FOREIGN_SENDER", HIGH, "Another sender on the workstation's CAN ids"),  # WS
        _ws("DUPLICATE_MODULE", HIGH, "Two modules answer in this slot — check modules"),
        _ws("MODULE_IDENTITY_CHANGED", HIGH, "Another pump module in this slot — reprogram"),
        _ws("REPLAYED_FRAMES", HIGH, "Replayed frames on the bus — check the bus"),
        _ws("IMPLAUSIBLE_DELIVERY", HIGH, "Pump report implausible — check pump and line"),
        _ws("CONFIG_ERROR", HIGH, "Workstation configuration error"),  # WS
        # The central station no longer receives this bedside's alarms (distributed alarm
        # system, IEC 60601-1-8): that must be visible at the bedside.
        _ws("TELEMETRY_LINK_LOST", MEDIUM, "Central monitoring link lost"),  # WS
        _ws("TELEMETRY_BACKLOG", LOW, "Telemetry delayed"),  # WS
        _ws("TELEMETRY_DROPPING", MEDIUM, "Telemetry data being lost"),  # WS
        _ws("EVENT_LOG_ERROR", HIGH, "Event log cannot be written"),  # WS
        _ws("WS_SHUTDOWN", MEDIUM, "Workstation shutting down — pumps unsupervised",
            latching=False),  # WS
    )
}


_UNCATALOGUED = set(ChannelCondition) - WORKSTATION_CONDITIONS.keys()
if _UNCATALOGUED:  # a condition a channel raises that the nurse would see no text for
    raise RuntimeError(f"alarm catalogue: no entry for {sorted(_UNCATALOGUED)}")


def condition_info(condition: str, *, infusing: bool = False) -> ConditionInfo:
    """Look up a condition by its AlarmKey.condition name, module or workstation."""
    info = WORKSTATION_CONDITIONS.get(condition)
    if info is not None:
        return info
    try:
        bit = AlarmCondition[condition]
    except KeyError:
        raise KeyError(f"unknown alarm condition {condition!r}") from None
    return module_condition_info(bit, infusing=infusing)
