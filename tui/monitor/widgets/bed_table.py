"""Beds → channels: one header line per workstation, then one line per channel.

A stale or offline workstation is greyed AND says so in words (STALE / OFFLINE on its header
and on each of its channels), so it reads on a monochrome terminal too: its values are the last
ones heard, not the pump's present state.
"""

from __future__ import annotations

import time

from rich.text import Text

from tui.monitor.model import WORKSTATIONS, MonitorModel, WorkstationState
from tui.monitor.widgets.alarm_list import CONDITION_STYLE, age_text, alarm_style, fit
from tui.monitor.widgets.lines import LineList
from tui.widgets.channel_card import STATE_STYLE
from workstation.telemetry.payloads import ObservationPayload

GREY = "grey50"


def _dose(obs: ObservationPayload) -> str:
    return "" if obs.dose is None else f"{obs.dose:g} {obs.dose_unit}"


def render_ws_row(ws: WorkstationState, condition: str, now: float) -> Text:
    """Bed and workstation, its condition in words, channel count, audio, active alarms."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f" {ws.unit}/{ws.bed} ", style="bold reverse" if condition == "ONLINE"
                else "bold reverse grey50")
    line.append(f" {ws.workstation} ", style="bold")
    if condition == "OFFLINE":
        reason = ws.status.reason if ws.status is not None and ws.status.reason else ""
        since = time.strftime("%H:%M:%S", time.localtime(ws.state_since))
        line.append(f" OFFLINE since {since}{' (' + reason + ')' if reason else ''} ",
                    style=CONDITION_STYLE["OFFLINE"])
    elif condition == "STALE":
        line.append(f" STALE: nothing heard for {age_text(now - ws.last_heard)} ",
                    style=CONDITION_STYLE["STALE"])
    elif ws.status is None:
        line.append(" no status yet ", style="yellow")
    else:
        line.append(" online ", style="green")
    line.append(f"  {len(ws.channels)} ch", style="dim")
    if ws.audio and ws.audio != "on":
        line.append(f"  audio {ws.audio.upper()}", style="bold")
    counts = [(p, sum(1 for a in ws.alarms.values() if a.priority == p))
              for p in ("HIGH", "MEDIUM", "LOW")]
    shown = "  ".join(f"{n} {p}" for p, n in counts if n)
    if shown:
        line.append(f"  alarms: {shown}", style="bold")
    if ws.seq_gaps:
        line.append(f"  {ws.seq_gaps} messages missed", style="yellow")
    if ws.status is not None and ws.status.care_area:
        line.append(f"  {ws.status.care_area}", style="dim")
    return line


def _columns(width: int) -> tuple[int, int, int, int]:
    """Widths of label, drug, dose and state: narrow terminals drop the label first; the
    alarm gets what is left (the alarm list above shows it in full anyway)."""
    label, dose, state = (12, 20, 18) if width >= 110 else (0, 15, 9)
    fixed = 8 + 3 + (label + 1 if label else 0) + 1 + dose + 1 + 11 + state + 2 + 24
    return label, max(min(width - fixed, 32), 10), dose, state


def render_channel_row(obs: ObservationPayload, condition: str, width: int, *,
                       flash_on: bool = True, acknowledged: bool = False) -> Text:
    """Tag (STALE/OFFLINE or blank), letter, label, drug, dose, mL/h, state, alarm."""
    fresh = condition == "ONLINE"
    tag = "" if fresh else condition
    label_w, drug_w, dose_w, state_w = _columns(width)
    drug = f"{obs.drug} {obs.concentration}".strip() or "no infusion"
    line = Text(no_wrap=True, overflow="ellipsis", style="" if fresh else GREY)
    line.append(f" {tag:<7}", style=CONDITION_STYLE.get(tag, ""))
    line.append(f"{obs.channel:>2} ", style="bold")
    if label_w:
        line.append(f"{fit(obs.label, label_w):<{label_w}} ")
    line.append(f"{fit(drug, drug_w):<{drug_w}} {fit(_dose(obs), dose_w):>{dose_w}} ")
    line.append(f"{obs.rate_ml_h:>6.1f} mL/h", style="bold" if fresh else "")
    state = obs.state + (f" {obs.mode}" if obs.mode not in ("NONE", "PRIMARY", "") else "")
    line.append(f" {state[:state_w]:<{state_w}} ",
                style=STATE_STYLE.get(obs.state, "") if fresh else "")
    if obs.alarm:
        priority = obs.alarm_priority or ""
        marker = {"HIGH": "***", "MEDIUM": "**", "LOW": "*"}.get(priority, "i")
        line.append(f"{marker} {obs.alarm}",
                    style=alarm_style(priority, acknowledged=acknowledged,
                                      flash_on=flash_on))
    return line


class BedTable(LineList):
    """Rows are (workstation key, channel letter or None for the header); a workstation's
    rows are rendered again only when it changed, its condition changed, or its alarm
    flashes."""

    def __init__(self, model: MonitorModel) -> None:
        super().__init__(id="beds")
        self.model = model
        self.now = 0.0
        self.conditions: dict[str, str] = {}
        self.layout_rows: list[tuple[str, str | None]] = []
        self._index: dict[str, range] = {}
        self._channels: dict[str, tuple[str, ...]] = {}
        self._flashing: dict[int, str] = {}  # row -> HIGH or MEDIUM
        self.high_on = self.medium_on = True
        self.border_title = "Beds"

    def update(self, now: float, dirty: set[str]) -> None:
        self.now = now
        workstations = self.model.workstations()
        touched = {k for k in dirty if k.startswith("ws:")}
        rebuild = WORKSTATIONS in dirty
        for ws in workstations:
            condition = self.model.condition(ws, now)
            if condition != self.conditions.get(ws.key) or condition == "STALE":
                touched.add(ws.key)  # a STALE header counts the seconds of silence
            self.conditions[ws.key] = condition
            if ws.key in touched and tuple(ws.channels) != self._channels.get(ws.key):
                rebuild = True
        if rebuild:
            self._layout(workstations)
            return
        self.invalidate(i for key in touched for i in self._index.get(key, ()))

    def _layout(self, workstations: list[WorkstationState]) -> None:
        rows: list[tuple[str, str | None]] = []
        self._index.clear()
        self._channels.clear()
        self._flashing.clear()
        for ws in workstations:
            start = len(rows)
            rows.append((ws.key, None))
            rows.extend((ws.key, obs.channel) for obs in ws.sorted_channels())
            self._index[ws.key] = range(start, len(rows))
            self._channels[ws.key] = tuple(ws.channels)
        self.layout_rows = rows
        self.conditions = {k: v for k, v in self.conditions.items() if k in self._index}
        n = len(workstations)
        self.border_title = f"Beds: {n} workstation{'s' if n != 1 else ''}"
        self.set_row_count(len(rows))

    def flash(self, *, high_on: bool, medium_on: bool) -> None:
        changed = {"HIGH": high_on != self.high_on, "MEDIUM": medium_on != self.medium_on}
        self.high_on, self.medium_on = high_on, medium_on
        self.invalidate([i for i, p in self._flashing.items() if changed[p]])

    def render_row(self, index: int, width: int) -> Text:
        key, letter = self.layout_rows[index]
        ws = self.model.workstation(key)
        self._flashing.pop(index, None)
        if ws is None:
            return Text("")
        condition = self.conditions.get(key, "ONLINE")
        if letter is None:
            return render_ws_row(ws, condition, self.now)
        obs = ws.channels.get(letter)
        if obs is None:
            return Text("")
        # The observation does not say whether its alarm is acknowledged; the active list
        # does: an acknowledged alarm stops flashing, as on the nurse's screen.
        mine = [a for a in ws.alarms.values() if a.channel == letter]
        acknowledged = bool(mine) and all(a.acknowledged for a in mine)
        priority = obs.alarm_priority
        if obs.alarm and priority in ("HIGH", "MEDIUM") and not acknowledged:
            self._flashing[index] = priority
        flash_on = self.high_on if priority == "HIGH" else self.medium_on
        return render_channel_row(obs, condition, width, flash_on=flash_on,
                                  acknowledged=acknowledged)
