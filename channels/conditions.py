"""The alarm conditions a channel controller raises, by name, and which of them stop the flow.

The controller names a condition; the workstation's alarm catalogue
(``workstation.alarm_catalog``) gives it a priority, a text and latching. A condition is either
one of these or an alarm bit a module reports (``dbc.vocabulary.AlarmCondition``).
"""

from __future__ import annotations

from enum import StrEnum

from dbc.vocabulary import STOPPING_CONDITIONS, AlarmCondition

__all__ = ["FLOW_STOPPING", "ChannelCondition", "Condition", "condition_name", "stops_infusion"]


class ChannelCondition(StrEnum):
    COMM_LOST = "COMM_LOST"
    COMMAND_UNACKNOWLEDGED = "COMMAND_UNACKNOWLEDGED"
    COMMAND_REJECTED = "COMMAND_REJECTED"
    PROGRAM_MISMATCH = "PROGRAM_MISMATCH"
    PROGRAM_PENDING = "PROGRAM_PENDING"
    OVER_INFUSION = "OVER_INFUSION"
    UNDER_INFUSION = "UNDER_INFUSION"
    MODULE_KIND_CHANGED = "MODULE_KIND_CHANGED"
    MODULE_SAFE_STATE = "MODULE_SAFE_STATE"
    MODULE_RESTARTED = "MODULE_RESTARTED"
    UNCOMMANDED_STOP = "UNCOMMANDED_STOP"
    UNCOMMANDED_RATE = "UNCOMMANDED_RATE"
    NO_MODULE = "NO_MODULE"
    DUPLICATE_MODULE = "DUPLICATE_MODULE"
    MODULE_IDENTITY_CHANGED = "MODULE_IDENTITY_CHANGED"
    IMPLAUSIBLE_DELIVERY = "IMPLAUSIBLE_DELIVERY"


Condition = ChannelCondition | AlarmCondition

# The flow has stopped (the module rebooted or is in its safe state, or stopped by itself), or
# the controller must never let it run (a read-back that differs from what was confirmed).
FLOW_STOPPING = frozenset({
    ChannelCondition.PROGRAM_MISMATCH, ChannelCondition.MODULE_SAFE_STATE,
    ChannelCondition.MODULE_RESTARTED, ChannelCondition.UNCOMMANDED_STOP,
})
# A module's open door stops the flow while it infuses (and only blocks a start otherwise).
_MODULE_STOPPING_WHILE_INFUSING = STOPPING_CONDITIONS | AlarmCondition.DOOR_OPEN


def condition_name(condition: Condition) -> str:
    """The alarm key's condition name: the enum member's name."""
    return str(condition.name)


def stops_infusion(name: str) -> bool:
    """Whether the condition ``name`` stops (or must stop) an infusing channel's flow."""
    if name in FLOW_STOPPING:
        return True
    bit = AlarmCondition.__members__.get(name)
    return bit is not None and bool(bit & _MODULE_STOPPING_WHILE_INFUSING)
