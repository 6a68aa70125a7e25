"""Every active alarm of every workstation: HIGH first, then the oldest first.

Same look as the nurse's banner (IEC 60601-1-8): HIGH red flashing ~2 Hz, MEDIUM yellow ~0.5 Hz,
LOW cyan steady, each with ``***``/``**``/``*`` so the list also reads without colour. An
acknowledged alarm stops flashing. An alarm of a stale or offline workstation keeps its colour
(it may still be real) and says STALE or OFFLINE: it may be out of date.
"""

from __future__ import annotations

from collections import Counter

from rich.text import Text

from tui.monitor.model import AlarmRow
from tui.monitor.widgets.lines import LineList
from tui.widgets.alarm_banner import OFF_STYLE, ON_STYLE
from workstation.alarms import Priority

CONDITION_STYLE = {"STALE": "bold black on grey62", "OFFLINE": "bold white on grey35"}
PRIORITIES = ("HIGH", "MEDIUM", "LOW", "INFO")


def age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def fit(text: str, width: int) -> str:
    """At most ``width`` cells, with an ellipsis when cut: a cut name must not read as
    another one (ws-13 cut to ws-1)."""
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def alarm_style(priority_name: str, *, acknowledged: bool, flash_on: bool) -> str:
    priority = Priority[priority_name] if priority_name in Priority.__members__ else None
    if priority is None:
        return "bold"
    if not flash_on and not acknowledged and priority in OFF_STYLE:
        return OFF_STYLE[priority]
    return ON_STYLE[priority]


def render_alarm_row(row: AlarmRow, width: int, *, flash_on: bool = True) -> Text:
    """One line: marker, bed and workstation, channel, text, age, acknowledged, condition."""
    style = alarm_style(row.priority, acknowledged=row.acknowledged, flash_on=flash_on)
    where = f"{row.unit}/{row.bed} {row.workstation}"
    ack = "acknowledged" if row.acknowledged else "unacknowledged"
    latched = "" if row.active else " (latched)"
    tag = "" if row.ws_condition == "ONLINE" else f" {row.ws_condition} "
    # marker 5 + where 25 + source 4 + text + age 8 + ack 15 + tag: the text takes the rest
    where_width = 24 if width >= 100 else 18
    text_width = max(width - (5 + where_width + 1 + 4 + 1 + 8 + 15) - len(tag), 12)
    message = fit(row.text + latched, text_width)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f" {row.marker:<3} {fit(where, where_width):<{where_width}} {row.source:<3} "
                f"{message:<{text_width}} {age_text(row.age_s):>7} {ack:<14}", style=style)
    if tag:
        line.append(tag, style=CONDITION_STYLE.get(row.ws_condition, "reverse"))
    return line


def title(counts: Counter[str]) -> str:
    if not counts:
        return "Alarms: none"
    parts = [f"{counts[p]} {p}" for p in PRIORITIES if counts.get(p)]
    return f"Alarms ({sum(counts.values())}): " + " · ".join(parts)


class AlarmList(LineList):
    """Shows the rows it is given; flashes the unacknowledged HIGH and MEDIUM ones."""

    def __init__(self) -> None:
        super().__init__(id="alarms")
        self.alarms: list[AlarmRow] = []
        self.high_on = True
        self.medium_on = True
        self.border_title = "Alarms: none"

    def show(self, rows: list[AlarmRow], counts: Counter[str]) -> None:
        self.alarms = rows
        self.border_title = title(counts)
        self.set_row_count(max(len(rows), 1))  # one line says "No alarms"

    def flash(self, *, high_on: bool, medium_on: bool) -> None:
        changed = {"HIGH": high_on != self.high_on, "MEDIUM": medium_on != self.medium_on}
        self.high_on, self.medium_on = high_on, medium_on
        self.invalidate(i for i, row in enumerate(self.alarms)
                        if changed.get(row.priority) and not row.acknowledged)

    def render_row(self, index: int, width: int) -> Text:
        if not self.alarms:
            return Text(" No alarms", style="green")
        row = self.alarms[index]
        flash_on = self.high_on if row.priority == "HIGH" else self.medium_on
        return render_alarm_row(row, width, flash_on=flash_on)
