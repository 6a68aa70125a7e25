"""H7: how the API's wait for a command ends. Always a ``ChannelError`` subclass, never a bare
``TimeoutError``; a page that could not be sent fails the call at once."""

from __future__ import annotations

import asyncio

import pytest

from channels.commands import Completion, Outcome, Request
from channels.controller import ChannelError
from dbc.frames import Command, CommandAck, PrimaryPage, Program
from dbc.vocabulary import AckResult, CommandCode, PumpState, RejectReason
from workstation.command_errors import (
    CommandAbandoned,
    CommandFailed,
    CommandNotSent,
    CommandRejected,
    CommandTimeout,
    CommandUnacknowledged,
    command_failure,
    conclude,
)

PAUSE = Command(node=1, seq=7, command=CommandCode.PAUSE)
PAGE = Program(node=1, seq=6, program_id=1, page=PrimaryPage(rate_ml_h=20, vtbi_ml=100))


def future() -> asyncio.Future[Completion]:
    return asyncio.get_running_loop().create_future()


async def test_no_answer_in_time_is_a_command_timeout_not_a_bare_timeout_error() -> None:
    with pytest.raises(CommandTimeout, match=r"PAUSE seq 7.*no answer") as caught:
        await conclude("A", [(PAUSE, future())], 0.01)
    assert isinstance(caught.value, ChannelError)


async def test_a_page_not_sent_fails_the_call_before_any_wait() -> None:
    page, pause = future(), future()
    page.set_exception(CommandNotSent("channel A: Program seq 6 not sent: KvoRate"))
    sent: list[tuple[Request, asyncio.Future[Completion]]] = [(PAGE, page), (PAUSE, pause)]
    with pytest.raises(CommandNotSent, match="KvoRate"):
        await conclude("A", sent, 60.0)  # would wait a minute for the PAUSE otherwise


async def test_accepted_returns_the_ack() -> None:
    ack = CommandAck(node=1, result=AckResult.ACCEPTED, seq=7, subject=CommandCode.PAUSE,
                     state=PumpState.PAUSED)
    done = future()
    done.set_result(Completion(PAUSE, Outcome.ACCEPTED, ack, 1, 0.01))
    assert await conclude("A", [(PAUSE, done)], 1.0) == ack


@pytest.mark.parametrize(("outcome", "kind"), [
    (Outcome.REJECTED, CommandRejected), (Outcome.UNACKNOWLEDGED, CommandUnacknowledged),
    (Outcome.ABANDONED, CommandAbandoned)])
def test_every_outcome_but_accepted_is_its_own_channel_error(
        outcome: Outcome, kind: type[CommandFailed]) -> None:
    ack = CommandAck(node=1, result=AckResult.REJECTED, seq=7, subject=CommandCode.PAUSE,
                     reason=RejectReason.BAD_STATE, state=PumpState.IDLE) \
        if outcome is Outcome.REJECTED else None
    error = command_failure("A", Completion(PAUSE, outcome, ack, 4, 2.0))
    assert type(error) is kind and isinstance(error, ChannelError)
    assert str(error).startswith(f"channel A: pump {outcome.value} command")
