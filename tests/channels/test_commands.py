"""Command tracking: sequence numbers, acknowledgement matching, bounded retries."""

from __future__ import annotations

from channels.commands import CommandTracker, Outcome
from dbc.frames import Command, CommandAck, PrimaryPage, Program
from dbc.vocabulary import AckResult, CommandCode, PumpState, RejectReason


def command(tracker: CommandTracker, code: CommandCode = CommandCode.START) -> Command:
    return Command(node=2, seq=tracker.next_seq(), command=code)


def ack(frame: Command | Program, *, subject: CommandCode | None = None,
        rejected: bool = False) -> CommandAck:
    code = subject or (frame.command if isinstance(frame, Command)
                       else CommandCode.PROGRAM_PRIMARY)
    return CommandAck(node=2, seq=frame.seq, subject=code, state=PumpState.IDLE,
                      result=AckResult.REJECTED if rejected else AckResult.ACCEPTED,
                      reason=RejectReason.BAD_STATE if rejected else RejectReason.NONE)


def test_ack_completes_and_reports_latency() -> None:
    t = CommandTracker(ack_timeout_s=0.5, retries=3)
    frame = t.send(command(t), now=10.0)
    done = t.on_ack(ack(frame), now=10.02)
    assert done is not None and done.outcome is Outcome.ACCEPTED and done.tries == 1
    assert abs(done.latency_s - 0.02) < 1e-9 and t.in_flight == 0
    assert t.on_ack(ack(frame), now=10.03) is None  # a duplicate ack closes nothing


def test_rejection_and_a_mismatched_subject() -> None:
    t = CommandTracker()
    frame = t.send(command(t), now=0.0)
    assert t.on_ack(ack(frame, subject=CommandCode.PAUSE), now=0.1) is None
    done = t.on_ack(ack(frame, rejected=True), now=0.1)
    assert done is not None and done.outcome is Outcome.REJECTED


def test_retries_with_the_same_seq_then_gives_up() -> None:
    t = CommandTracker(ack_timeout_s=0.5, retries=2)
    frame = t.send(command(t), now=0.0)
    assert t.tick(0.4) == ([], [])
    resend, failed = t.tick(0.5)
    assert resend == [frame] and not failed
    resend, failed = t.tick(1.0)
    assert resend == [frame] and not failed
    resend, failed = t.tick(1.5)
    assert not resend and len(failed) == 1
    assert failed[0].outcome is Outcome.UNACKNOWLEDGED and failed[0].tries == 3


def test_program_pages_are_tracked_by_page_subject() -> None:
    t = CommandTracker()
    page = Program(node=2, seq=t.next_seq(), program_id=4,
                   page=PrimaryPage(rate_ml_h=10, vtbi_ml=10))
    t.send(page, now=0.0)
    done = t.on_ack(ack(page), now=0.01)
    assert done is not None and done.frame == page


def test_seq_wraps_and_skips_seqs_in_flight() -> None:
    t = CommandTracker()
    held = t.send(command(t), now=0.0)  # seq 1 stays in flight
    for _ in range(254):
        t.on_ack(ack(t.send(command(t), now=0.0)), now=0.0)
    assert t.next_seq() == 0
    assert t.next_seq() == 2  # 1 is still waiting for its ack
    assert held.seq == 1


def test_cancel_all_completes_everything_in_flight_as_abandoned() -> None:
    # H7: whoever waits for these learns at once that the module is gone.
    t = CommandTracker(ack_timeout_s=0.5, retries=3)
    first = t.send(command(t), now=1.0)
    second = t.send(command(t, CommandCode.PAUSE), now=1.2)
    t.tick(1.6)  # the first one is being retried
    done = t.cancel_all(now=2.0)
    assert [(d.frame, d.outcome) for d in done] == [(first, Outcome.ABANDONED),
                                                    (second, Outcome.ABANDONED)]
    assert done[0].tries == 2 and done[0].ack is None and abs(done[0].latency_s - 1.0) < 1e-9
    assert t.in_flight == 0 and t.tick(10.0) == ([], [])
