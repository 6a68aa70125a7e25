"""The programming workflow of one channel, as ONE table: (step, trigger) -> next step or refusal.

A program goes SENT (pages on their way) -> VERIFIED (every page acknowledged and read back
identical) -> STARTING (start command sent) -> ACTIVE (the module confirmed it runs it). What the
module runs without the workstation having confirmed it is ADOPTED from its read-back. The other
steps are the ways a program fails: MISMATCH (read back different), INCOMPLETE (read-back not
complete in time, or the module was lost), REJECTED (a page or the start refused by the module)
and UNCONFIRMED (the start was never acknowledged: the status reconciliation finds out).

Pure data: the controller fires triggers and acts on the result; ``rows()`` and ``mermaid()``
draw the same table for docs/safety/state-machines.md, so the docs cannot drift from the code.
A refused nurse action becomes a ``ChannelError`` with the refusal's reason; a refused module
input is logged (and alarmed where it matters) by the controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "NURSE_TRIGGERS", "TABLE", "Refusal", "Step", "Trigger", "Workflow", "mermaid", "rows",
    "transition",
]


class Step(Enum):
    NONE = "none"  # nothing programmed (or cleared)
    SENT = "sent"  # pages sent, waiting for their acknowledgements and read-back
    VERIFIED = "verified"  # every page acknowledged and read back as sent
    STARTING = "starting"  # start (or secondary/bolus start) sent, not yet acknowledged
    ACTIVE = "active"  # the module confirmed it runs the program
    ADOPTED = "adopted"  # the module runs a program the workstation took from its read-back
    MISMATCH = "mismatch"  # a page read back differently: never started
    INCOMPLETE = "incomplete"  # read-back not complete in time, or the module was lost
    REJECTED = "rejected"  # the module refused a page or the start
    UNCONFIRMED = "unconfirmed"  # start never acknowledged: the module's status decides


class Trigger(Enum):
    LOAD = "load"  # nurse: send a checked plan's pages
    PAGE_ACKED = "page_acked"
    PAGE_REJECTED = "page_rejected"
    READBACK_MATCH = "readback_match"  # one page read back as sent
    ALL_VERIFIED = "all_verified"  # every page acknowledged and matched
    READBACK_MISMATCH = "readback_mismatch"
    DEADLINE = "deadline"  # read-back not complete by its deadline
    START_SENT = "start_sent"  # nurse start (primary), or automatic (secondary, bolus)
    START_ACKED = "start_acked"
    START_REJECTED = "start_rejected"  # primary: the pump keeps it verified, start again later
    AUTO_START_REJECTED = "auto_start_rejected"  # secondary/bolus start refused: order again
    START_UNACKED = "start_unacked"  # retries exhausted without an acknowledgement
    ADOPTED = "adopted"  # the module's active read-back taken as the running program
    CLEARED = "cleared"  # nurse clear
    MODULE_LOST = "module_lost"


NURSE_TRIGGERS = frozenset({Trigger.LOAD, Trigger.START_SENT, Trigger.CLEARED})


@dataclass(frozen=True)
class Refusal:
    reason: str


S, T = Step, Trigger
_FAILED = (S.MISMATCH, S.INCOMPLETE, S.REJECTED)
_SETTLED = (S.NONE, S.ACTIVE, S.ADOPTED, S.UNCONFIRMED, *_FAILED)

_NOT_SENT = "no program is waiting for the module's answer"
_WAIT_START = "a start is on its way to the pump; wait for its answer"


def _table() -> dict[tuple[Step, Trigger], Step | Refusal]:
    table: dict[tuple[Step, Trigger], Step | Refusal] = {}

    def put(steps: tuple[Step, ...], trigger: Trigger, to: Step | Refusal | None) -> None:
        for step in steps:
            table[(step, trigger)] = step if to is None else to  # None: stay

    every = tuple(Step)
    # Nurse: a new program replaces whatever is being programmed, except a start in flight.
    put(every, T.LOAD, S.SENT)
    put((S.STARTING,), T.LOAD, Refusal(_WAIT_START))
    # Module answers to the pages: only meaningful while they are on their way.
    for trigger in (T.PAGE_ACKED, T.READBACK_MATCH):
        put(every, trigger, Refusal(_NOT_SENT))
        put((S.SENT,), trigger, None)
    put(every, T.PAGE_REJECTED, Refusal(_NOT_SENT))
    put((S.SENT,), T.PAGE_REJECTED, S.REJECTED)
    put(every, T.ALL_VERIFIED, Refusal(_NOT_SENT))
    put((S.SENT,), T.ALL_VERIFIED, S.VERIFIED)
    put(every, T.READBACK_MISMATCH, Refusal(_NOT_SENT))
    put((S.SENT, S.VERIFIED), T.READBACK_MISMATCH, S.MISMATCH)
    put(every, T.DEADLINE, Refusal("no read-back is awaited"))
    put((S.SENT,), T.DEADLINE, S.INCOMPLETE)
    # Start: only a verified program.
    put(every, T.START_SENT, Refusal("nothing verified to start; program it first"))
    put((S.VERIFIED,), T.START_SENT, S.STARTING)
    put((S.SENT,), T.START_SENT,
        Refusal("the program is not verified by read-back yet; wait, or program again"))
    put((S.MISMATCH,), T.START_SENT,
        Refusal("the pump read the program back differently; program it again"))
    put((S.INCOMPLETE,), T.START_SENT,
        Refusal("the pump did not confirm the program in time; program it again"))
    put((S.REJECTED,), T.START_SENT,
        Refusal("the pump refused the program (see the alarm); program it again"))
    put((S.STARTING,), T.START_SENT, Refusal(_WAIT_START))
    # A refused primary start (door open, alarm active) leaves the program verified in the
    # pump: the nurse starts again once the cause is gone. A refused secondary or bolus start
    # ends that order.
    for trigger, to in ((T.START_ACKED, S.ACTIVE), (T.START_REJECTED, S.VERIFIED),
                        (T.AUTO_START_REJECTED, S.REJECTED), (T.START_UNACKED, S.UNCONFIRMED)):
        put(every, trigger, Refusal("no start is awaiting the pump's answer"))
        put((S.STARTING,), trigger, to)
    # What the module runs is what the channel shows: adoption never waits for the nurse,
    # but it does not cancel a program being sent, verified or started (it replaces the view).
    put(every, T.ADOPTED, S.ADOPTED)
    put((S.SENT, S.VERIFIED, S.STARTING), T.ADOPTED, None)
    put(every, T.CLEARED, S.NONE)
    put((S.STARTING,), T.CLEARED, Refusal(_WAIT_START))
    # Module lost: pages and a verification are void (program again); a start in flight may
    # or may not have run (the status on return decides); a running program keeps running.
    put((S.SENT, S.VERIFIED), T.MODULE_LOST, S.INCOMPLETE)
    put((S.STARTING,), T.MODULE_LOST, S.UNCONFIRMED)
    put(_SETTLED, T.MODULE_LOST, None)
    return table


TABLE: dict[tuple[Step, Trigger], Step | Refusal] = _table()


def transition(step: Step, trigger: Trigger) -> Step | Refusal:
    return TABLE[(step, trigger)]


def rows() -> list[tuple[str, str, str]]:
    """(step, trigger, next step or "refused: reason"), every pair, in enum order."""
    out = []
    for step in Step:
        for trigger in Trigger:
            to = TABLE[(step, trigger)]
            out.append((step.name, trigger.value,
                        to.name if isinstance(to, Step) else f"refused: {to.reason}"))
    return out


def mermaid() -> str:
    """A stateDiagram-v2 of the accepted transitions (self-loops left out for legibility)."""
    lines = ["stateDiagram-v2", f"    [*] --> {Step.NONE.name}"]
    edges: dict[tuple[Step, Step], list[str]] = {}
    for (step, trigger), to in TABLE.items():
        if isinstance(to, Step) and to is not step:
            edges.setdefault((step, to), []).append(trigger.value)
    for (step, to), triggers in edges.items():
        lines.append(f"    {step.name} --> {to.name}: {', '.join(triggers)}")
    return "\n".join(lines) + "\n"


@dataclass
class Workflow:
    """The current step; ``fire`` moves it by the table or says why not (and stays)."""

    step: Step = Step.NONE

    def fire(self, trigger: Trigger) -> Refusal | None:
        to = TABLE[(self.step, trigger)]
        if isinstance(to, Refusal):
            return to
        self.step = to
        return None

    def allows(self, trigger: Trigger) -> Refusal | None:
        to = TABLE[(self.step, trigger)]
        return to if isinstance(to, Refusal) else None
