"""One channel at a glance: big letter, label, drug, dose AND mL/h, volume, time, pressure, alarm.

``render_card`` is pure (snapshot + width + flash phase -> Rich Text) so it is tested without a
screen; ``ChannelCard`` only caches the snapshot and redraws when it changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from workstation.snapshot import ChannelSnapshot

CARD_HEIGHT = 5
STATE_STYLE = {
    "INFUSING": "bold green", "KVO": "bold cyan", "COMPLETE": "bold cyan",
    "PAUSED": "bold yellow", "PROGRAMMED": "bold white", "IDLE": "dim",
    "ALARM": "bold white on red", "OFFLINE": "bold red", "NO MODULE": "dim red",
}
ALARM_STYLE = {"***": "bold white on red", "**": "bold black on yellow", "*": "black on cyan",
               "": "dim"}
SPARK = "▁▂▃▄▅▆▇█"


def spark(values: tuple[int, ...], top: float) -> str:
    if not values:
        return ""
    top = max(top, max(values), 1)
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))]
                   for v in values[-8:])


def _minutes(total: int | None) -> str:
    if total is None:
        return "--"
    hours, minutes = divmod(total, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes} min"


def _line(*parts: tuple[str, str] | str, width: int, right: tuple[str, str] | None = None
          ) -> Text:
    text = Text.assemble(*parts, no_wrap=True, overflow="ellipsis")
    if right is not None:
        gap = width - text.cell_len - len(right[0])
        text.append(" " * max(gap, 1))
        text.append(*right)
    text.truncate(width, overflow="ellipsis")
    return text


def render_card(snap: ChannelSnapshot, width: int, *, selected: bool = False,
                flash_on: bool = True) -> Text:
    """Five lines; the letter column is three cells wide and coloured by state."""
    state_style = STATE_STYLE.get(snap.state, "bold")
    letter_style = f"reverse bold {'yellow' if selected else state_style.split()[-1]}"
    body = max(width - 4, 10)
    state = snap.state + (f" {snap.mode}" if snap.mode and snap.mode != "PRIMARY" else "")
    if snap.program_pending:
        state += " (verified)" if snap.program_verified else " (sending)"
    drug = snap.drug or ("no infusion" if snap.online else "")
    if snap.high_alert and snap.drug:
        drug = "⚠ " + drug
    dose: tuple[str, str] = (snap.dose_text, "bold") if snap.dose_text != "-" else ("", "")
    rate = (f"{snap.rate_ml_h:.1f} mL/h", "bold")
    vol = "--" if snap.volume_infused_ml is None else f"{snap.volume_infused_ml:.1f}"
    vtbi = "--" if snap.vtbi_ml is None else f"{snap.vtbi_ml:g}"
    pressure = "--" if snap.pressure_mmhg is None else f"{snap.pressure_mmhg}"
    lines = [
        _line((snap.label or f"slot {snap.slot}", "bold"), width=body, right=(state, state_style)),
        _line((drug, "bold" if snap.drug else "dim"), "  ", (snap.concentration, "dim"),
              width=body),
        _line(dose, "  " if dose[0] else "", rate,
              ("" if snap.programmed_rate_ml_h is None or
               abs(snap.programmed_rate_ml_h - snap.rate_ml_h) < 0.05 or snap.state != "INFUSING"
               else f" (set {snap.programmed_rate_ml_h:g})", "yellow"),
              (f"  {snap.weight_text}" if snap.weight_text else "", ""), width=body),
        _line(f"{vol}/{vtbi} mL  {_minutes(snap.time_remaining_min)}  ", (f"{pressure} mmHg ",
              ""), (spark(snap.pressure_trend, 300), "magenta"), width=body),
    ]
    if snap.alarm_text:
        style = ALARM_STYLE.get(snap.alarm_marker, "bold")
        if not flash_on and snap.alarm_marker in ("***", "**"):
            style = "bold red" if snap.alarm_marker == "***" else "bold yellow"
        lines.append(_line((f"{snap.alarm_marker} {snap.alarm_text}", style), width=body))
    elif snap.notes and snap.drug:
        # The drug's advisory ("central line only") where the alarm goes when there is none.
        lines.append(_line((f"ⓘ {snap.notes}", "italic"), width=body))
    else:
        lines.append(Text(""))
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, line in enumerate(lines):
        letter = f" {snap.letter:<2}" if i == 1 else "   "
        out.append(letter, style=letter_style)
        out.append(" ")
        out.append_text(line)
        if i < len(lines) - 1:
            out.append("\n")
    return out


class ChannelCard(Widget):
    """A card; the grid sets ``snapshot`` and the flash phase, the card redraws if needed."""

    DEFAULT_CSS = "ChannelCard { height: 5; }"

    def __init__(self, letter: str) -> None:
        super().__init__(id=f"card-{letter}", classes="card")
        self.letter = letter
        self.snapshot: ChannelSnapshot | None = None
        self.selected = False
        self.flash_on = True
        self._text: Text | None = None  # what is on screen now

    def show(self, snap: ChannelSnapshot, *, selected: bool, flash_on: bool) -> None:
        """Redraw only when the rendered text changed: values that are not shown (or not
        shown at this width) cost nothing."""
        self.snapshot, self.selected, self.flash_on = snap, selected, flash_on
        text = render_card(snap, self.size.width, selected=selected, flash_on=flash_on)
        if self._text is not None and text == self._text:
            return
        self._text = text
        self.set_class(selected, "-selected")
        self.refresh()

    def on_resize(self) -> None:
        self._text = None  # a new width: render again

    def render(self) -> Text:
        if self.snapshot is None:
            return Text(f" {self.letter} …", style="dim")
        if self._text is None:
            self._text = render_card(self.snapshot, self.size.width, selected=self.selected,
                                     flash_on=self.flash_on)
        return self._text
