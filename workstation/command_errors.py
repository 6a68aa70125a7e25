"""How a command to a pump ends when it ends without the pump's answer: ``ChannelError``s.

The API raises these (never a bare ``TimeoutError`` or a codec error), so the UI and any
caller handle every failed command the same way: show the message, keep running.
"""

from __future__ import annotations

import asyncio

from channels.commands import Completion, Request
from channels.controller import ChannelError
from dbc.frames import Command, CommandAck


class CommandFailed(ChannelError):
    """A command that did not end with the pump's acceptance; the message says why."""


class CommandRejected(CommandFailed):
    """The pump refused the command (its reason is in the message)."""


class CommandUnacknowledged(CommandFailed):
    """The pump never confirmed the command, after every retry."""


class CommandNotSent(CommandFailed):
    """The command could not be put on the bus (e.g. a value the frame cannot carry)."""


class CommandAbandoned(CommandFailed):
    """The pump module was lost while the command was in flight."""


class CommandTimeout(CommandFailed):
    """No conclusion within the time the workstation waits for one."""


_BY_OUTCOME: dict[str, type[CommandFailed]] = {
    "rejected": CommandRejected, "unacknowledged": CommandUnacknowledged,
    "abandoned": CommandAbandoned}


def command_failure(letter: str, done: Completion) -> CommandFailed:
    """The error for a command that ended without the pump's acceptance."""
    reason = done.ack.reason.name if done.ack else "no acknowledgement"
    kind = _BY_OUTCOME.get(done.outcome.value, CommandFailed)
    return kind(f"channel {letter}: pump {done.outcome.value} {done.frame.MESSAGE.lower()} "
                f"({reason})")


async def conclude(letter: str, sent: list[tuple[Request, asyncio.Future[Completion]]],
                   timeout_s: float) -> CommandAck | None:
    """Wait for the commands among ``sent`` to end; the last acknowledgement, or the first
    failure as a ``CommandFailed``. A page or command that could not be sent has failed
    already (the station completed its future at once)."""
    for _, future in sent:
        error = future.exception() if future.done() and not future.cancelled() else None
        if error is not None:
            raise error
    ack = None
    for frame, future in sent:
        if not isinstance(frame, Command):
            continue  # program pages are judged by read-back, not here
        try:
            done = await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise CommandTimeout(
                f"channel {letter}: {frame.command.name} seq {frame.seq}: no answer from the "
                f"pump within {timeout_s:.1f} s; check the channel before acting again"
            ) from None
        if done.outcome.value != "accepted":
            raise command_failure(letter, done)
        ack = done.ack
    return ack
