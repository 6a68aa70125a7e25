"""The pump module's state machine as one table: every (pump state, command) pair has an outcome.

An outcome is a ``Transition`` (accepted: the next state and delivery mode) or a ``Refusal`` (the
module answers Ack REJECTED with that reason and nothing changes). ``TABLE`` is built from the
explicit rows below and checked complete at import, so a pair without an outcome cannot exist.

Only the state decides here. The guards that depend on more than the state (door open, alarm
conditions, air not cleared at the pump, battery, program ids, VTBI complete) are applied by
``pumps.commands`` in a fixed, documented order around this table.

START has two forms. START naming the *pending* program commits a new program (or titrates a
running one): it is accepted from every state (``COMMIT``), subject to the guards. START naming
the active program, or none, resumes: that form is what the table's START rows describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from itertools import product

from dbc.vocabulary import CommandCode, DeliveryMode, PumpState, RejectReason

__all__ = [
    "COMMANDS", "COMMIT", "TABLE", "Goto", "Refusal", "Transition", "decide", "mermaid", "outcome",
    "rows",
]


class Goto(Enum):
    SAME = "same"  # state and mode unchanged
    RESUME = "resume"  # the state and mode saved when the motor last halted


@dataclass(frozen=True)
class Transition:
    """Accepted: go to ``to`` with ``mode`` (None: keep the mode, or the resumed one).

    ``needs_mode``: accepted only while the motor runs in that mode (else BAD_STATE).
    """

    to: PumpState | Goto
    mode: DeliveryMode | None = None
    needs_mode: DeliveryMode | None = None
    why: str = ""

    def describe(self) -> str:
        to = self.to.name if isinstance(self.to, PumpState) else self.to.value
        mode = f"/{self.mode.name}" if self.mode is not None else ""
        needs = f" (only in {self.needs_mode.name})" if self.needs_mode is not None else ""
        return f"→ {to}{mode}{needs}"


@dataclass(frozen=True)
class Refusal:
    reason: RejectReason
    why: str = ""

    def describe(self) -> str:
        return f"✗ {self.reason.name}"


Outcome = Transition | Refusal
S, C = PumpState, CommandCode
COMMANDS: tuple[CommandCode, ...] = tuple(c for c in CommandCode if c < C.PROGRAM_PRIMARY)
STAY = Transition(Goto.SAME)
NOT_RUNNING = Refusal(RejectReason.BAD_STATE, "the motor is not running")
STOPPED = Transition(S.PROGRAMMED, DeliveryMode.NONE, why="motor off, program kept")
# START naming the pending program, from any state: a new program, or a titration.
COMMIT = Transition(S.INFUSING, DeliveryMode.PRIMARY,
                    why="new program; a titration keeps a running secondary or bolus")
# Commands with the same outcome in every state: they change no state.
EVERYWHERE: dict[CommandCode, Outcome] = {
    C.NOP: STAY,
    C.ALARM_ACK: STAY,
    C.SILENCE: STAY,
    C.RESET_VOLUME: STAY,
    C.REQUEST_READBACK: STAY,
}

_ROWS: dict[PumpState, dict[CommandCode, Outcome]] = {
    S.IDLE: {
        C.START: Refusal(RejectReason.NO_PROGRAM, "nothing to resume"),
        C.PAUSE: NOT_RUNNING,
        C.STOP: Transition(S.IDLE, DeliveryMode.NONE),
        C.CLEAR: Transition(S.IDLE, DeliveryMode.NONE),
        C.BOLUS_START: NOT_RUNNING,
        C.BOLUS_STOP: NOT_RUNNING,
        C.SECONDARY_START: NOT_RUNNING,
        C.SECONDARY_STOP: NOT_RUNNING,
    },
    S.PROGRAMMED: {
        C.START: Transition(S.INFUSING, DeliveryMode.PRIMARY, why="start the active program"),
        C.PAUSE: NOT_RUNNING,
        C.STOP: STOPPED,
        C.CLEAR: Transition(S.IDLE, DeliveryMode.NONE),
        C.BOLUS_START: NOT_RUNNING,
        C.BOLUS_STOP: NOT_RUNNING,
        C.SECONDARY_START: Refusal(RejectReason.BAD_STATE, "a secondary piggybacks a running "
                                                           "primary"),
        C.SECONDARY_STOP: NOT_RUNNING,
    },
    S.INFUSING: {
        C.START: Refusal(RejectReason.BAD_STATE, "already running; titrate with a new program"),
        C.PAUSE: Transition(S.PAUSED, DeliveryMode.NONE),
        C.STOP: STOPPED,
        C.CLEAR: Refusal(RejectReason.BAD_STATE, "stop before clearing"),
        C.BOLUS_START: Transition(S.INFUSING, DeliveryMode.BOLUS,
                                  needs_mode=DeliveryMode.PRIMARY),
        C.BOLUS_STOP: Transition(S.INFUSING, DeliveryMode.PRIMARY,
                                 needs_mode=DeliveryMode.BOLUS),
        C.SECONDARY_START: Transition(S.INFUSING, DeliveryMode.SECONDARY,
                                      needs_mode=DeliveryMode.PRIMARY),
        C.SECONDARY_STOP: Transition(S.INFUSING, DeliveryMode.PRIMARY,
                                     needs_mode=DeliveryMode.SECONDARY,
                                     why="or KVO/COMPLETE if the primary VTBI is done"),
    },
    S.PAUSED: {
        C.START: Transition(Goto.RESUME),
        C.PAUSE: NOT_RUNNING,
        C.STOP: STOPPED,
        C.CLEAR: Transition(S.IDLE, DeliveryMode.NONE),
        C.BOLUS_START: NOT_RUNNING,
        C.BOLUS_STOP: NOT_RUNNING,
        C.SECONDARY_START: NOT_RUNNING,
        C.SECONDARY_STOP: NOT_RUNNING,
    },
    S.KVO: {
        C.START: Refusal(RejectReason.BAD_STATE, "VTBI done: a new program is needed"),
        C.PAUSE: Transition(S.PAUSED, DeliveryMode.NONE),
        C.STOP: STOPPED,
        C.CLEAR: Refusal(RejectReason.BAD_STATE, "stop before clearing"),
        C.BOLUS_START: Refusal(RejectReason.BAD_STATE, "no bolus on a keep-vein-open rate"),
        C.BOLUS_STOP: NOT_RUNNING,
        # H1: a secondary from KVO returned to the primary's full rate after its VTBI.
        C.SECONDARY_START: Refusal(RejectReason.BAD_STATE, "VTBI done: a new program is needed"),
        C.SECONDARY_STOP: NOT_RUNNING,
    },
    S.COMPLETE: {
        C.START: Refusal(RejectReason.BAD_STATE, "VTBI done: a new program is needed"),
        C.PAUSE: NOT_RUNNING,
        C.STOP: STOPPED,
        C.CLEAR: Transition(S.IDLE, DeliveryMode.NONE),
        C.BOLUS_START: NOT_RUNNING,
        C.BOLUS_STOP: NOT_RUNNING,
        C.SECONDARY_START: Refusal(RejectReason.BAD_STATE, "VTBI done: a new program is needed"),
        C.SECONDARY_STOP: NOT_RUNNING,
    },
    S.ALARM: {
        C.START: Transition(Goto.RESUME, why="once the stopping condition is gone"),
        C.PAUSE: NOT_RUNNING,
        C.STOP: STOPPED,
        C.CLEAR: Transition(S.IDLE, DeliveryMode.NONE),
        C.BOLUS_START: NOT_RUNNING,
        C.BOLUS_STOP: NOT_RUNNING,
        C.SECONDARY_START: NOT_RUNNING,
        C.SECONDARY_STOP: NOT_RUNNING,
    },
}


def _build() -> dict[tuple[PumpState, CommandCode], Outcome]:
    table: dict[tuple[PumpState, CommandCode], Outcome] = {}
    for state, row in _ROWS.items():
        both = set(row) & set(EVERYWHERE)
        if both:
            raise AssertionError(f"state table: {state.name} repeats {sorted(both)}")
        for command, outcome in {**EVERYWHERE, **row}.items():
            table[(state, command)] = outcome
    missing = set(product(PumpState, COMMANDS)) - set(table)
    if missing:
        names = sorted(f"{s.name} x {c.name}" for s, c in missing)
        raise AssertionError(f"state table: no outcome for {', '.join(names)}; add the rows "
                             "in pumps/state_table.py")
    return table


TABLE: dict[tuple[PumpState, CommandCode], Outcome] = _build()


def outcome(state: PumpState, command: CommandCode) -> Outcome:
    return TABLE[(state, command)]


def decide(state: PumpState, mode: DeliveryMode, command: CommandCode) -> Outcome:
    """The table's outcome, with a row bound to a delivery mode refused in any other mode."""
    out = TABLE[(state, command)]
    if isinstance(out, Transition) and out.needs_mode not in (None, mode):
        return Refusal(RejectReason.BAD_STATE, f"only while running {out.needs_mode.name}")
    return out


def rows() -> str:
    """The table as markdown: one row per state, one column per command."""
    head = "| state | " + " | ".join(c.name for c in COMMANDS) + " |"
    rule = "|---" * (len(COMMANDS) + 1) + "|"
    body = [f"| {s.name} | " + " | ".join(TABLE[(s, c)].describe() for c in COMMANDS) + " |"
            for s in PumpState]
    note = (f"\n\nSTART naming the pending program (a new program or a titration) is accepted "
            f"from every state {COMMIT.describe()}, subject to the guards; the START column is "
            "START naming the active program (resume). ✗ = Ack REJECTED with that reason.")
    return "\n".join([head, rule, *body]) + note


def mermaid() -> str:
    """A mermaid stateDiagram-v2 of the accepted state changes, drawn from ``TABLE``.

    Commands that change neither state nor mode are left out; refusals are in ``rows()``.
    The edges that no command makes (VTBI done, a stopping condition, the occlusion
    auto-restart) are drawn from ``pumps.firmware``'s behaviour, named here once.
    """
    lines = ["stateDiagram-v2", f"    [*] --> {PumpState.IDLE.name}"]
    edges: dict[tuple[str, str], list[str]] = {}
    for (state, command), out in TABLE.items():
        if not isinstance(out, Transition) or out.to is Goto.SAME:
            continue
        # A resume returns to what was running when the motor halted: INFUSING or KVO.
        targets = ("INFUSING", "KVO") if out.to is Goto.RESUME else (out.to.name,)
        label = command.name + (" (resume)" if out.to is Goto.RESUME else "")
        if out.needs_mode is not None:
            label += f" in {out.needs_mode.name}"
        for target in targets:
            if target == state.name and out.mode in (None, DeliveryMode.NONE):
                continue  # STOP in IDLE and the like: nothing to draw
            edges.setdefault((state.name, target), []).append(label)
    for state in PumpState:
        if state is not PumpState.INFUSING:
            edges.setdefault((state.name, "INFUSING"), []).append("START new program")
    lines += [f"    INFUSING --> {t}: {w}" for t, w in (
        ("KVO", "VTBI done, end action KVO"), ("COMPLETE", "VTBI done, end action STOP"),
        ("ALARM", "stopping condition (latched)"))]
    lines.append("    KVO --> ALARM: stopping condition (latched)")
    lines.append("    ALARM --> INFUSING: occlusion released within 15 s (auto-restart)")
    for (src, dst), labels in edges.items():
        lines.append(f"    {src} --> {dst}: {', '.join(labels)}")
    return "\n".join(lines) + "\n"
