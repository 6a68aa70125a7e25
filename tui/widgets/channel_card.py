"""One channel at a glance: big letter, label, drug, dose AND mL/h, volume, time, pressure, alarm.

``render_card`` is pure (snapshot + width + flash phase -> Rich Text) so it is tested without a
screen; ``ChannelCard`` only caches the snapshot and redraws when it changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from channels import quantities
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


def _fits(text: str, width: int) -> bool:
    return Text(text).cell_len <= width


def _line(*parts: tuple[str, str] | str, width: int, right: tuple[str, str] | None = None
          ) -> Text:
    text = Text.assemble(*parts, no_wrap=True, overflow="ellipsis")
    if right is not None:
        gap = width - text.cell_len - len(right[0])
        text.append(" " * max(gap, 1))
        text.append(*right)
    text.truncate(width, overflow="ellipsis")
    return text


def _whole(parts: list[tuple[str, str]], width: int) -> Text:
    """Parts in order of importance, each kept whole or left out: never cut mid-word."""
    text = Text(no_wrap=True)
    for part, style in parts:
        if text.cell_len + Text(part).cell_len <= width:
            text.append(part, style=style)
        else:
            break
    return text


def _wrap(text: str, width: int, lines: int) -> list[str]:
    """Words over at most ``lines`` lines of ``width``; only the very last may be cut."""
    out = [""]
    for word in text.split():
        candidate = f"{out[-1]} {word}" if out[-1] else word
        if _fits(candidate, width) or not out[-1]:
            out[-1] = candidate
        elif len(out) < lines:
            out.append(word)
        else:
            out[-1] = candidate  # no more room: the last line is cut by _line
    return out


def _rate_parts(snap: ChannelSnapshot) -> list[tuple[str, str]]:
    """Dose and mL/h; during a bolus the bolus rate as a bolus, with the basal dose and rate."""
    rate = quantities.rate(snap.rate_ml_h)
    dose = "" if snap.dose_text == "-" else snap.dose_text
    basal = snap.programmed_rate_ml_h
    if snap.mode == "BOLUS":
        parts = [(f"BOLUS {rate}", "bold reverse")]
        if basal is not None:
            parts += [(f"  basal {dose}" if dose else "  basal", ""),
                      (f" {quantities.rate(basal)}", "")]
        return parts
    parts = [(dose, "bold"), ("  ", "")] if dose else []
    parts.append((rate, "bold"))
    if basal is not None and abs(basal - snap.rate_ml_h) >= 0.05 and snap.state == "INFUSING":
        parts.append((f" (set {quantities.tenths(basal)})", "yellow"))
    return parts


def render_card(snap: ChannelSnapshot, width: int, *, selected: bool = False,
                flash_on: bool = True) -> Text:
    """Five lines; the letter column is three cells wide and coloured by state.

    What a nurse must read is never cut: drug, concentration, dose, mL/h, alarm. When a card is
    narrow the concentration moves to the details line (or to the label's place), a long alarm
    takes two lines, and the label, pressure trend and time left give way first."""
    state_style = STATE_STYLE.get(snap.state, "bold")
    letter_style = f"reverse bold {'yellow' if selected else state_style.split()[-1]}"
    body = max(width - 4, 10)
    state = snap.state + (f" {snap.mode}" if snap.mode and snap.mode != "PRIMARY" else "")
    if snap.program_pending:
        state += " (verified)" if snap.program_verified else " (sending)"
    drug = snap.drug or ("no infusion" if snap.online else "")
    if snap.high_alert and snap.drug:
        drug = "⚠ " + drug
    conc = snap.concentration
    conc_moves = bool(conc) and not _fits(f"{drug}  {conc}", body)
    alarm: list[str] = []
    if snap.alarm_text:
        alarm = _wrap(f"{snap.alarm_marker} {snap.alarm_text}", body, 2)
    left = "-- mL left" if snap.volume_remaining_ml is None or not snap.drug else \
        f"{quantities.volume(snap.volume_remaining_ml)} left"
    running = snap.state in ("INFUSING", "KVO")
    details: list[tuple[str, str]] = [(left, ""), (
        f"  {quantities.minutes(snap.time_remaining_min, running=running)}", "")]
    if snap.pressure_mmhg is not None:
        details += [(f"  {snap.pressure_mmhg} mmHg ", ""),
                    (spark(snap.pressure_trend, 300), "magenta")]
    label = (snap.label or f"slot {snap.slot}", "bold")
    if conc_moves and len(alarm) < 2:
        details = [(conc, "dim"), ("  ", ""), *details]
    elif conc_moves:
        label = (conc, "dim")  # the label gives way to the concentration and the alarm
    line2: list[tuple[str, str] | str] = [(drug, "bold" if snap.drug else "dim")]
    if not conc_moves:
        line2 += ["  ", (conc, "dim")]
    top = _line(label, width=body, right=(state, state_style))
    if label[0] == conc and not _fits(f"{conc} {state}", body):
        top = _line(label, width=body)  # the alarm lines below say what the state is
    lines = [
        top,
        _line(*line2, width=body),
        # The weight a weight-based dose is stated for, after the rate (H10).
        _whole([*_rate_parts(snap), (f"  {snap.weight_text}" if snap.weight_text else "", "")],
               body),
    ]
    style = ALARM_STYLE.get(snap.alarm_marker, "bold")
    if not flash_on and snap.alarm_marker in ("***", "**"):
        style = "bold red" if snap.alarm_marker == "***" else "bold yellow"
    if len(alarm) == 2:
        lines += [_line((alarm[0], style), width=body), _line((alarm[1], style), width=body)]
    else:
        lines.append(_whole(details, body))
        if alarm:
            lines.append(_line((alarm[0], style), width=body))
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
