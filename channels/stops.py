"""No silent stop: judge each Status against the commands the workstation sent.

"A module that stops delivering without a command always raises an alarm" (issue 14): the
module going from running (INFUSING, KVO) to a stopped state, or running at a rate other than
the program's, is explained only by a command the workstation sent just before, by an alarm
condition the module reports, or by the end of the VTBI. Anything else is UNCOMMANDED_STOP or
UNCOMMANDED_RATE (HIGH). And a module in ALARM must say which condition: ALARM with no stopping
condition is always an alarm (H2: a syringe that backed its plunger off before latching the
occlusion). Pure: Status frames, commands and the time in, conditions out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.conditions import ChannelCondition
from dbc.frames import Status
from dbc.vocabulary import STOPPING_CONDITIONS, AlarmCondition, CommandCode, PumpState

__all__ = ["Finding", "StopJudge"]

RUNNING = (PumpState.INFUSING, PumpState.KVO)
# A command explains what the module does this long after it was sent: every retry of its
# acknowledgement (4 x 0.5 s by default) plus a status period or two.
EXPLAIN_S = 3.0
# What each command may legitimately make a running module do.
STOPS_EXPLAINED_BY: dict[CommandCode, frozenset[PumpState]] = {
    CommandCode.PAUSE: frozenset({PumpState.PAUSED}),
    CommandCode.STOP: frozenset({PumpState.PROGRAMMED, PumpState.IDLE}),
    CommandCode.CLEAR: frozenset({PumpState.IDLE}),
}
RATE_COMMANDS = frozenset({CommandCode.START, CommandCode.SECONDARY_START,
                           CommandCode.SECONDARY_STOP, CommandCode.BOLUS_START,
                           CommandCode.BOLUS_STOP, CommandCode.PAUSE, CommandCode.STOP})
RATE_TOLERANCE_ML_H = 0.15  # the Status carries the rate to 0.1 mL/h
RATE_STATUSES = 2  # consecutive statuses off the program before it is an alarm (not a race)


@dataclass(frozen=True)
class Finding:
    condition: ChannelCondition  # UNCOMMANDED_STOP or UNCOMMANDED_RATE
    detail: str


@dataclass
class StopJudge:
    believed_running: bool = False  # the workstation believes the motor should be running
    _commands: list[tuple[CommandCode, float]] = field(default_factory=list)
    _rate_off: int = 0
    rate_alarm: bool = False

    _rebooted_at: float | None = None

    def commanded(self, code: CommandCode, now: float) -> None:
        self._commands.append((code, now))

    def module_rebooted(self, now: float) -> None:
        """A reboot explains the stop around it: MODULE_RESTARTED says it, not a second alarm."""
        self._rebooted_at = now
        self.believed_running = False

    def _recent(self, now: float) -> set[CommandCode]:
        self._commands = [(c, t) for c, t in self._commands if now - t <= EXPLAIN_S]
        return {c for c, _ in self._commands}

    def judge(self, previous: Status | None, status: Status, now: float, *,
              expected_rate: float | None) -> list[Finding]:
        """``expected_rate``: the program's rate for the module's mode, None when the
        workstation does not know what runs (then reconciliation asks the module first)."""
        recent = self._recent(now)
        findings: list[Finding] = []
        stopping = status.alarms & STOPPING_CONDITIONS
        state = status.state
        if state is PumpState.ALARM and not stopping and \
                (previous is None or previous.state is not PumpState.ALARM):
            findings.append(Finding(ChannelCondition.UNCOMMANDED_STOP,
                                    "the pump reports ALARM but no alarm condition"))
        elif previous is not None and previous.state in RUNNING and state not in RUNNING:
            rebooted = self._rebooted_at is not None and now - self._rebooted_at <= EXPLAIN_S
            explained = rebooted or \
                any(state in STOPS_EXPLAINED_BY.get(c, ()) for c in recent) or \
                bool(stopping) or (state is PumpState.COMPLETE and
                                   bool(status.alarms & AlarmCondition.INFUSION_COMPLETE))
            if explained:
                self.believed_running = False
            else:
                findings.append(Finding(ChannelCondition.UNCOMMANDED_STOP,
                                        f"{previous.state.name} -> {state.name} with no "
                                        "command and no alarm condition"))
        if state in RUNNING:
            self.believed_running = True
        findings += self._judge_rate(status, expected_rate, recent)
        return findings

    def _judge_rate(self, status: Status, expected: float | None,
                    recent: set[CommandCode]) -> list[Finding]:
        if status.state not in RUNNING or expected is None or recent & RATE_COMMANDS:
            self._rate_off = 0
            return []
        tolerance = max(RATE_TOLERANCE_ML_H, 0.01 * expected)
        if abs(status.rate_ml_h - expected) <= tolerance:
            self._rate_off = 0
            return []
        self._rate_off += 1
        if self._rate_off < RATE_STATUSES or self.rate_alarm:
            return []
        self.rate_alarm = True
        return [Finding(ChannelCondition.UNCOMMANDED_RATE,
                        f"pump runs {status.rate_ml_h:g} mL/h, program {expected:g} mL/h, "
                        "no command changed it")]

    def rate_agrees(self) -> bool:
        """True once the rate is back on the program after a rate alarm (condition gone)."""
        if self.rate_alarm and self._rate_off == 0:
            self.rate_alarm = False
            return True
        return False
