"""The bus vocabulary: the enums behind the value tables of ``dbc/infusion.dbc``.

``dbc/build_dbc.py`` writes the DBC's value tables from these enums: change a member here, run
``python dbc/build_dbc.py`` and commit both; ``tests/bus/test_dbc.py`` compares the two.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "ALARM_BITS_WIDTH", "STOPPING_CONDITIONS", "AckResult", "AlarmCondition", "CommandCode",
    "DeliveryMode", "EndAction", "ModuleKind", "ModuleState", "ProgramPage", "ProgramStore",
    "PumpState", "RejectReason", "SyringeSize", "WorkstationState",
]


class ModuleKind(IntEnum):
    VOLUMETRIC = 0
    SYRINGE = 1


class ModuleState(IntEnum):
    """Life-cycle of a module, reported in its heartbeat (CiA 425 style)."""

    BOOT = 0
    OPERATIONAL = 1
    SAFE_STATE = 2  # internal fault: motor disabled until serviced
    SERVICE = 3


class WorkstationState(IntEnum):
    BOOT = 0
    OPERATIONAL = 1
    SHUTTING_DOWN = 2


class PumpState(IntEnum):
    """What the module's motor is doing for the patient."""

    IDLE = 0  # no active program
    PROGRAMMED = 1  # active program, motor stopped (never started, or stopped)
    INFUSING = 2
    PAUSED = 3
    KVO = 4  # VTBI reached, keep-vein-open rate running
    COMPLETE = 5  # VTBI reached, end action STOP: motor stopped
    ALARM = 6  # stopped by a high-priority condition


class DeliveryMode(IntEnum):
    NONE = 0
    PRIMARY = 1
    SECONDARY = 2
    BOLUS = 3


class EndAction(IntEnum):
    """What the module does when the primary VTBI is reached."""

    STOP = 0
    KVO = 1
    CONTINUE = 2


class CommandCode(IntEnum):
    """Commands, and (>= 64) the program pages an acknowledgement can refer to."""

    NOP = 0
    START = 1  # start or resume; commits the pending program named by ProgramId
    PAUSE = 2
    STOP = 3
    CLEAR = 4  # discard active and pending programs (only when not infusing)
    BOLUS_START = 5
    BOLUS_STOP = 6
    ALARM_ACK = 7  # Arg = alarm bits acknowledged
    SILENCE = 8  # Arg = seconds of local audio silence
    SECONDARY_START = 9
    SECONDARY_STOP = 10
    RESET_VOLUME = 11
    REQUEST_READBACK = 12  # Arg = ProgramStore to read back
    PROGRAM_PRIMARY = 64
    PROGRAM_SETTINGS = 65
    PROGRAM_BOLUS = 66
    PROGRAM_SECONDARY = 67


class AckResult(IntEnum):
    ACCEPTED = 0
    REJECTED = 1


class RejectReason(IntEnum):
    NONE = 0
    BAD_STATE = 1
    NO_PROGRAM = 2
    PROGRAM_ID_MISMATCH = 3
    ALARM_ACTIVE = 4
    OUT_OF_RANGE = 5
    DOOR_OPEN = 6
    UNKNOWN_COMMAND = 7
    NOT_SUPPORTED = 8
    INCOMPLETE_PROGRAM = 9
    KVO_ABOVE_RATE = 10
    AIR_NOT_CLEARED = 11  # air stopped the pump: cleared only at the pump, never remotely
    BATTERY = 12  # the battery would deplete within minutes at the programmed rate
    # Another sender uses this module's own identifiers (a duplicate node or an attacker):
    # commands are refused until it has been quiet a while; a running program goes on.
    NODE_CONFLICT = 13


class ProgramPage(IntEnum):
    """Multiplexer of the Program and Readback frames."""

    PRIMARY = 0
    SETTINGS = 1
    BOLUS = 2
    SECONDARY = 3


class ProgramStore(IntEnum):
    PENDING = 0  # received, not yet started
    ACTIVE = 1  # what the motor runs


class SyringeSize(IntEnum):
    NONE = 0
    ML_5 = 5
    ML_10 = 10
    ML_20 = 20
    ML_50 = 50
    ML_60 = 60


class AlarmCondition(IntFlag):
    """Alarm bits as carried in Status.AlarmBits and AlarmEvent (bit index = Condition)."""

    OCCLUSION_DOWNSTREAM = 1 << 0
    OCCLUSION_UPSTREAM = 1 << 1
    AIR_IN_LINE = 1 << 2
    AIR_ACCUMULATED = 1 << 3
    DOOR_OPEN = 1 << 4
    CONTAINER_EMPTY = 1 << 5
    SYRINGE_NEAR_END = 1 << 6
    SYRINGE_END = 1 << 7
    SYRINGE_NOT_ENGAGED = 1 << 8
    BATTERY_LOW = 1 << 9
    BATTERY_DEPLETED = 1 << 10
    WS_HEARTBEAT_LOST = 1 << 11
    INFUSION_COMPLETE = 1 << 12
    NEAR_END = 1 << 13
    CALLBACK = 1 << 14
    HARDWARE_FAULT = 1 << 15
    ON_BATTERY = 1 << 16
    HOLD_EXPIRED = 1 << 17
    OVER_TEMPERATURE = 1 << 18

    @property
    def index(self) -> int:
        """Bit index, as sent in AlarmEvent.Condition."""
        return (int(self) & -int(self)).bit_length() - 1

    @classmethod
    def from_index(cls, index: int) -> AlarmCondition:
        return cls(1 << index)


ALARM_BITS_WIDTH = 20

# Conditions that stop the motor (HIGH priority on the workstation side).
STOPPING_CONDITIONS = (
    AlarmCondition.OCCLUSION_DOWNSTREAM
    | AlarmCondition.OCCLUSION_UPSTREAM
    | AlarmCondition.AIR_IN_LINE
    | AlarmCondition.AIR_ACCUMULATED
    | AlarmCondition.DOOR_OPEN
    | AlarmCondition.CONTAINER_EMPTY
    | AlarmCondition.SYRINGE_END
    | AlarmCondition.SYRINGE_NOT_ENGAGED
    | AlarmCondition.BATTERY_DEPLETED
    | AlarmCondition.HARDWARE_FAULT
    | AlarmCondition.OVER_TEMPERATURE
)
