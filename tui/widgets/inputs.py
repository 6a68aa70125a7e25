"""Inputs of the forms: text fields that never swallow the audio-pause key, and a button that
stays reachable with Tab while it cannot act and says why."""

from __future__ import annotations

from typing import Self

from textual.widgets import Button, Input
from textual.widgets._button import ButtonVariant


class SpaceSafeInput(Input):
    """Space is the audio pause everywhere, even with a text field focused (PIN, filter)."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return key != "space" and super().check_consume_key(key, character)


class GatedButton(Button):
    """A send button that is greyed (``-gated``) while it cannot act, yet stays in the Tab
    order: a disabled Textual button is skipped by Tab, so the nurse never reaches it to learn
    why. Pressing it while gated rings and says why instead of acting."""

    def __init__(self, label: str, *, id: str, variant: ButtonVariant = "success",
                 why: str = "") -> None:
        super().__init__(label, id=id, variant=variant)
        self.why = ""
        self.gate(why)

    @property
    def gated(self) -> bool:
        return bool(self.why)

    def gate(self, why: str) -> None:
        """Grey the button with the reason (or enable it with "")."""
        self.why = why
        self.set_class(bool(why), "-gated")

    def press(self) -> Self:
        if self.why:
            self.app.bell()
            self.notify(f"{self.label} is not possible yet: {self.why}", severity="warning",
                        timeout=5, markup=False)
            return self
        return super().press()
