"""How a command to a pump ends when it ends without the pump's answer: ``ChannelError``s.

The API raises these (never a bare ``TimeoutError`` or a codec error), so the UI and any
caller handle every failed command the same way: show the message, keep running.
"""

from __future__ import annotations

from channels.controller import ChannelError


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
