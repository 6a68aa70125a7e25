"""Commands in flight to one module: sequence numbers, acknowledgement timeout, bounded retries.

Pure: ``send`` registers a frame, ``on_ack`` matches an acknowledgement, ``tick(now)`` returns
the frames to send again and the requests that ran out of retries. A retry repeats the same
Seq, which the module answers again without executing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from dbc.frames import Command, CommandAck, Program
from dbc.vocabulary import CommandCode

__all__ = ["CommandTracker", "Completion", "InFlight", "Outcome", "Request", "subject_of"]

Request = Command | Program


class Outcome(Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNACKNOWLEDGED = "unacknowledged"
    ABANDONED = "abandoned"  # the module was lost while the request was in flight


def subject_of(frame: Request) -> CommandCode:
    if isinstance(frame, Command):
        return frame.command
    return CommandCode(CommandCode.PROGRAM_PRIMARY + frame.page.PAGE)


@dataclass
class InFlight:
    frame: Request
    first_sent_at: float
    deadline: float
    tries: int = 1


@dataclass(frozen=True)
class Completion:
    frame: Request
    outcome: Outcome
    ack: CommandAck | None
    tries: int
    latency_s: float


@dataclass
class CommandTracker:
    ack_timeout_s: float = 0.5
    retries: int = 3
    _seq: int = 0
    _in_flight: dict[int, InFlight] = field(default_factory=dict)

    def next_seq(self) -> int:
        # Skip Seqs still in flight so an ack can never be matched to the wrong request.
        for _ in range(256):
            self._seq = (self._seq + 1) % 256
            if self._seq not in self._in_flight:
                return self._seq
        raise RuntimeError("256 commands in flight to one module")

    def send(self, frame: Request, now: float) -> Request:
        self._in_flight[frame.seq] = InFlight(frame, now, now + self.ack_timeout_s)
        return frame

    def on_ack(self, ack: CommandAck, now: float) -> Completion | None:
        """The completion this ack closes, or None for a stray/duplicate ack."""
        request = self._in_flight.get(ack.seq)
        if request is None or subject_of(request.frame) != ack.subject:
            return None
        del self._in_flight[ack.seq]
        outcome = Outcome.ACCEPTED if ack.accepted else Outcome.REJECTED
        return Completion(request.frame, outcome, ack, request.tries, now - request.first_sent_at)

    def tick(self, now: float) -> tuple[list[Request], list[Completion]]:
        resend: list[Request] = []
        failed: list[Completion] = []
        for seq, request in list(self._in_flight.items()):
            if now < request.deadline:
                continue
            if request.tries > self.retries:
                del self._in_flight[seq]
                failed.append(Completion(request.frame, Outcome.UNACKNOWLEDGED, None,
                                         request.tries, now - request.first_sent_at))
            else:
                request.tries += 1
                request.deadline = now + self.ack_timeout_s
                resend.append(request.frame)
        return resend, failed

    def cancel_all(self, now: float) -> list[Completion]:
        """End everything in flight (the module vanished): each request completes ABANDONED,
        so whoever waits for it learns at once instead of waiting for a timeout."""
        dropped = [Completion(r.frame, Outcome.ABANDONED, None, r.tries, now - r.first_sent_at)
                   for r in self._in_flight.values()]
        self._in_flight.clear()
        return dropped

    def forget(self, seq: int) -> Request | None:
        """Stop tracking one request that never reached the bus (it could not be encoded):
        no retry, no completion; the caller ends it."""
        request = self._in_flight.pop(seq, None)
        return None if request is None else request.frame

    def requests(self) -> list[Request]:
        """What is in flight now, oldest first."""
        return [r.frame for r in self._in_flight.values()]

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)
