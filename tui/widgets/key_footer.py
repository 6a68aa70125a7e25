"""The main screen's key line: only keys that work now, each shown whole, never cut mid-word.

Textual's Footer clips its last key at the edge ("f9 Ackno" at 80 columns). Here keys that do
not fit are left out whole, the least needed first (pause and start are in the action menu and
the help); while locked the app hides what does not work (``InfusionApp.check_action``).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

# Kept longest when the line is short: what a nurse needs under alarm load.
KEEP_ORDER = ("audio_pause", "acknowledge", "help", "lock", "menu", "program", "stop",
              "start", "pause")


def footer_line(keys: list[tuple[str, str, str]], width: int) -> Text:
    """``keys``: (action, key shown, description) in display order -> one line of whole keys
    that fits ``width``."""
    def cost(item: tuple[str, str, str]) -> int:
        return len(item[1]) + len(item[2]) + 3  # " key desc "

    rank = {action: i for i, action in enumerate(KEEP_ORDER)}
    kept = sorted(keys, key=lambda k: rank.get(k[0], len(KEEP_ORDER)))
    while kept and sum(cost(k) for k in kept) > width:
        kept.pop()
    shown = [k for k in keys if k in kept]
    line = Text(no_wrap=True)
    for _, key, description in shown:
        line.append(f" {key} ", style="bold reverse")
        line.append(f" {description} ")
    return line


class KeyFooter(Widget):
    DEFAULT_CSS = "KeyFooter { dock: bottom; height: 1; background: $panel; }"

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _: self.refresh())

    def keys(self) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            description = binding.description
            if binding.action == "lock" and getattr(self.app, "locked", False):
                description = "Unlock"
            out.append((binding.action, self.app.get_key_display(binding), description))
        return out

    def render(self) -> Text:
        return footer_line(self.keys(), self.size.width)

