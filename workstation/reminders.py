"""The STOPPED_IN_ALARM reminder (H5): a channel the pump stopped for an alarm, whose alarms
were all acknowledged or went away, while it stays stopped. Pure: state and time in,
raise/clear decisions out.

GIP: an interrupted therapy is never silent for longer than the audio-pause time. A paused
channel has the module's own HOLD_EXPIRED reminder; a channel stopped in ALARM had nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StoppedReminder:
    after_s: float  # the audio-pause time: silence allowed, at most
    _quiet_since: dict[str, float] = field(default_factory=dict)
    _reminding: set[str] = field(default_factory=set)

    def update(self, letter: str, *, stopped_in_alarm: bool, sounding: bool,
               now: float) -> bool | None:
        """True: raise the reminder now; False: clear it; None: nothing to do."""
        if not stopped_in_alarm:
            self._quiet_since.pop(letter, None)
            if letter in self._reminding:
                self._reminding.discard(letter)
                return False
            return None
        if sounding:
            self._quiet_since.pop(letter, None)  # something is heard for this channel
            return None
        since = self._quiet_since.setdefault(letter, now)
        if now - since >= self.after_s:
            self._quiet_since.pop(letter, None)
            self._reminding.add(letter)
            return True
        return None
