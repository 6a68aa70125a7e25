"""Which "same drug on another channel" warnings a nurse has confirmed, so they are not re-asked.

A warning asked on every titration trains people to click through it. The confirmation holds
per pair of channels and drug, until either channel gets a new program (another drug, or the
same drug programmed again): titrating either of them does not ask again, a third channel
with the same drug does (a new pair), and a pair that was never confirmed (both programmed
before either ran) is asked at the next titration. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ConfirmedPairs"]

Pair = tuple[frozenset[str], str]  # the two channel letters, the drug id


class ConfirmedPairs:
    def __init__(self) -> None:
        self._pairs: set[Pair] = set()

    def unconfirmed(self, letter: str, others: Iterable[str], drug_id: str) -> tuple[str, ...]:
        """The channels of ``others`` whose pair with ``letter`` for ``drug_id`` still needs a
        confirmation, sorted."""
        return tuple(sorted(o for o in others
                            if (frozenset((letter, o)), drug_id) not in self._pairs))

    def confirm(self, letter: str, others: Iterable[str], drug_id: str) -> None:
        self._pairs.update((frozenset((letter, o)), drug_id) for o in others)

    def forget(self, letter: str) -> None:
        """``letter`` has a new program: every pair it was in must be confirmed again."""
        self._pairs = {p for p in self._pairs if letter not in p[0]}
