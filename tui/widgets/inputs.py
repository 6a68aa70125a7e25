"""Text inputs that never swallow the audio-pause key."""

from __future__ import annotations

from textual.widgets import Input


class SpaceSafeInput(Input):
    """Space is the audio pause everywhere, even with a text field focused (PIN, filter)."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return key != "space" and super().check_consume_key(key, character)
