"""The programming workflow table, walked pair by pair: on paper and on the real controller."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from channels.controller import ChannelError
from channels.plan import PlanKind
from channels.programming import (
    NURSE_TRIGGERS,
    TABLE,
    Refusal,
    Step,
    Trigger,
    Workflow,
    mermaid,
    rows,
    transition,
)
from dbc.frames import Command, CommandAck, PrimaryPage, Program, Readback, SettingsPage
from dbc.registry import ModuleChange
from dbc.vocabulary import (
    AckResult,
    CommandCode,
    DeliveryMode,
    EndAction,
    ProgramPage,
    ProgramStore,
    PumpState,
    RejectReason,
)
from tests.channels.controller_rig import FLUID, Rig

PENDING_STEPS = {Step.SENT, Step.VERIFIED, Step.STARTING}
OTHER = FLUID.model_copy(update={"rate_ml_h": 90})


def test_every_pair_has_an_outcome_and_every_refusal_a_reason() -> None:
    assert set(TABLE) == {(s, t) for s in Step for t in Trigger}
    for (step, trigger), to in TABLE.items():
        assert isinstance(to, Step) or (isinstance(to, Refusal) and len(to.reason) > 10), \
            (step, trigger)
    assert len(rows()) == len(Step) * len(Trigger)


def test_every_step_is_reachable_and_every_step_can_start_over() -> None:
    reached, frontier = {Step.NONE}, [Step.NONE]
    while frontier:
        step = frontier.pop()
        for trigger in Trigger:
            to = transition(step, trigger)
            if isinstance(to, Step) and to not in reached:
                reached.add(to)
                frontier.append(to)
    assert reached == set(Step)
    for step in Step:  # a new program (or clear) is always possible, but a start in flight
        if step is not Step.STARTING:
            assert transition(step, Trigger.LOAD) is Step.SENT
            assert transition(step, Trigger.CLEARED) is Step.NONE


def test_only_a_verified_program_starts() -> None:
    started = [s for s in Step if transition(s, Trigger.START_SENT) is Step.STARTING]
    assert started == [Step.VERIFIED]


def test_mermaid_is_drawn_from_the_table() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n")
    for (step, trigger), to in TABLE.items():
        if isinstance(to, Step) and to is not step:
            line = next(x for x in text.splitlines() if x.strip().startswith(
                f"{step.name} --> {to.name}:"))
            assert trigger.value in line


def test_workflow_refusal_leaves_the_step() -> None:
    flow = Workflow()
    refusal = flow.fire(Trigger.START_SENT)
    assert refusal is not None and "program it first" in refusal.reason
    assert flow.step is Step.NONE


# -- the same table, on the real controller ------------------------------------------------
def to_sent(rig: Rig) -> None:
    rig.deaf = True
    rig.drive(rig.c.load(FLUID, rig.now))
    rig.deaf = False


def to_verified(rig: Rig) -> None:
    rig.drive(rig.c.load(FLUID, rig.now))


def to_starting(rig: Rig) -> None:
    to_verified(rig)
    rig.take(rig.c.start(rig.now))


def to_active(rig: Rig) -> None:
    rig.run(FLUID)


def to_adopted(rig: Rig) -> None:
    rig.active = dict(zip((ProgramPage.PRIMARY, ProgramPage.SETTINGS), FLUID.primary_pages(),
                          strict=True))
    rig.active_id, rig.state, rig.mode = 9, PumpState.INFUSING, DeliveryMode.PRIMARY
    rig.status()


def to_mismatch(rig: Rig) -> None:
    rig.misread = True
    rig.drive(rig.c.load(FLUID, rig.now))
    rig.misread = False


def to_incomplete(rig: Rig) -> None:
    to_sent(rig)
    rig.now += 2.1
    rig.take(rig.c.tick(rig.now))


def to_rejected(rig: Rig) -> None:
    rig.reject_pages = True
    rig.drive(rig.c.load(FLUID, rig.now))
    rig.reject_pages = False


def to_unconfirmed(rig: Rig) -> None:
    to_verified(rig)
    rig.lose_acks_of = {CommandCode.START}
    rig.drive(rig.c.start(rig.now))
    rig.wait(3.0)
    rig.lose_acks_of = set()


DRIVERS: dict[Step, Callable[[Rig], None]] = {
    Step.NONE: lambda rig: None, Step.SENT: to_sent, Step.VERIFIED: to_verified,
    Step.STARTING: to_starting, Step.ACTIVE: to_active, Step.ADOPTED: to_adopted,
    Step.MISMATCH: to_mismatch, Step.INCOMPLETE: to_incomplete, Step.REJECTED: to_rejected,
    Step.UNCONFIRMED: to_unconfirmed,
}


def pages_in_flight(rig: Rig) -> list[Program]:
    return [f for f in rig.c.tracker.requests() if isinstance(f, Program)]


def starts_in_flight(rig: Rig) -> list[Command]:
    return [f for f in rig.c.tracker.requests() if isinstance(f, Command)
            and f.command in (CommandCode.START, CommandCode.SECONDARY_START,
                              CommandCode.BOLUS_START)]


def ack(rig: Rig, frame: Command | Program, *, rejected: bool = False) -> None:
    subject = frame.command if isinstance(frame, Command) else \
        CommandCode(CommandCode.PROGRAM_PRIMARY + frame.page.PAGE)
    rig.take(rig.c.on_frame(CommandAck(
        node=1, seq=frame.seq, subject=subject, state=rig.state,
        result=AckResult.REJECTED if rejected else AckResult.ACCEPTED,
        reason=RejectReason.BAD_STATE if rejected else RejectReason.NONE), rig.now))


def page_answer(rig: Rig, *, rejected: bool = False) -> bool:
    pages = pages_in_flight(rig)
    if pages:
        ack(rig, pages[0], rejected=rejected)
    return bool(pages)


def readback(rig: Rig, *, same: bool) -> bool:
    pending = rig.c.pending
    if pending is None:
        return False
    page = pending.pages[ProgramPage.PRIMARY]
    if not same:
        page = PrimaryPage(rate_ml_h=1, vtbi_ml=1)
    rig.take(rig.c.on_frame(Readback(node=1, store=ProgramStore.PENDING,
                                     program_id=pending.program_id, page=page), rig.now))
    return True


def answer_pages(rig: Rig) -> bool:
    pages = pages_in_flight(rig)
    for frame in pages:
        for reply in rig.answer(frame):
            rig.take(rig.c.on_frame(reply, rig.now))
    return bool(pages)


def start_answer(rig: Rig, *, rejected: bool = False) -> bool:
    starts = starts_in_flight(rig)
    if starts:
        ack(rig, starts[0], rejected=rejected)
    return bool(starts)


def start_unanswered(rig: Rig) -> bool:
    if not starts_in_flight(rig):
        return False
    for _ in range(30):
        rig.now += 0.1
        rig.take(rig.c.tick(rig.now))
    return True


def deadline(rig: Rig) -> bool:
    pending = rig.c.pending
    rig.now = max(rig.now, pending.deadline if pending else rig.now) + 0.01
    rig.take(rig.c.tick(rig.now))
    return pending is not None


def adopt(rig: Rig) -> bool:
    settings = SettingsPage(kvo_rate_ml_h=1, occlusion_limit_mmhg=300,
                            end_action=EndAction.KVO, air_limit_ul=50)
    rig.active = {ProgramPage.PRIMARY: PrimaryPage(rate_ml_h=33, vtbi_ml=100),
                  ProgramPage.SETTINGS: settings}
    rig.active_id, rig.state, rig.mode = 99, PumpState.INFUSING, DeliveryMode.PRIMARY
    rig.status()
    return True


def clear(rig: Rig) -> bool:
    if rig.c.infusing:  # the controller's own rule: stop before clearing
        rig.drive(rig.c.stop(rig.now))
        rig.status()
    rig.drive(rig.c.clear_program(rig.now))
    return True


INPUTS: dict[Trigger, Callable[[Rig], bool]] = {
    Trigger.LOAD: lambda rig: bool(rig.take(rig.c.load(OTHER, rig.now))),
    Trigger.PAGE_ACKED: page_answer,
    Trigger.PAGE_REJECTED: lambda rig: page_answer(rig, rejected=True),
    Trigger.READBACK_MATCH: lambda rig: readback(rig, same=True),
    Trigger.ALL_VERIFIED: answer_pages,
    Trigger.READBACK_MISMATCH: lambda rig: readback(rig, same=False),
    Trigger.DEADLINE: deadline,
    Trigger.START_SENT: lambda rig: bool(rig.take(rig.c.start(rig.now))),
    Trigger.START_ACKED: start_answer,
    Trigger.START_REJECTED: lambda rig: start_answer(rig, rejected=True),
    Trigger.START_UNACKED: start_unanswered,
    Trigger.ADOPTED: adopt,
    Trigger.CLEARED: clear,
    Trigger.MODULE_LOST: lambda rig: bool(rig.module_event(ModuleChange.LOST)),
}
# Needs a secondary or bolus in flight; walked in test_secondary_start_refused_ends_the_order.
NOT_WALKED = {Trigger.AUTO_START_REJECTED}


@pytest.mark.parametrize("step", list(Step), ids=lambda s: s.name)
def test_drivers_reach_their_step(step: Step) -> None:
    rig = Rig().online()
    DRIVERS[step](rig)
    assert rig.c.step is step
    assert (rig.c.pending is not None) == (step in PENDING_STEPS)


@pytest.mark.parametrize("trigger", [t for t in Trigger if t not in NOT_WALKED],
                         ids=lambda t: t.value)
@pytest.mark.parametrize("step", list(Step), ids=lambda s: s.name)
def test_the_controller_follows_the_table(step: Step, trigger: Trigger) -> None:
    rig = Rig().online()
    DRIVERS[step](rig)
    expected = transition(step, trigger)
    if isinstance(expected, Refusal) and trigger in NURSE_TRIGGERS:
        with pytest.raises(ChannelError, match=re.escape(expected.reason)):
            INPUTS[trigger](rig)
        assert rig.c.step is step
        return
    applicable = INPUTS[trigger](rig)
    if not applicable:
        # The input cannot happen in this step (nothing in flight): the table must refuse it.
        assert isinstance(expected, Refusal), f"{trigger.value} possible in {step.name}?"
    want = step if isinstance(expected, Refusal) else expected
    # Module inputs may chain on (an acknowledged page completes the verification...), but
    # never against the table: the controller ends in the table's step or one it leads to.
    assert rig.c.step is want or _follows(want, rig.c.step), (step, trigger, rig.c.step)
    assert (rig.c.pending is not None) == (rig.c.step in PENDING_STEPS)


def _follows(step: Step, later: Step) -> bool:
    return any(transition(step, t) is later for t in Trigger)


def test_secondary_start_refused_ends_the_order() -> None:
    rig = Rig().online().run(FLUID)
    secondary = FLUID.model_copy(update={"kind": PlanKind.SECONDARY, "rate_ml_h": 25,
                                        "vtbi_ml": 5})
    rig.deaf = True
    rig.take(rig.c.load(secondary, rig.now))
    rig.deaf = False
    answer_pages(rig)
    assert rig.c.step is Step.STARTING
    start_answer(rig, rejected=True)
    after: Step = rig.c.step
    assert after is Step.REJECTED and rig.c.pending is None
    assert transition(Step.STARTING, Trigger.AUTO_START_REJECTED) is Step.REJECTED


def test_a_refused_module_input_is_logged_not_dropped() -> None:
    rig = Rig().online()
    to_starting(rig)
    pending = rig.c.pending
    assert pending is not None
    rig.take(rig.c.on_frame(Readback(node=1, store=ProgramStore.PENDING,
                                     program_id=pending.program_id,
                                     page=pending.pages[ProgramPage.PRIMARY]), rig.now))
    assert any("readback_match ignored in step STARTING" in e.message for e in rig.events)
    assert rig.c.step is Step.STARTING
