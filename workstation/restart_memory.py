"""What a restarted workstation takes over from the event log (issue 10): the alarms shown when
it stopped (B6: a restart silently dropped them) and the serial last seen in each slot (another
serial after the restart is MODULE_IDENTITY_CHANGED). Pure: rows in, decisions out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from channels.events import EventKind, LogRow
from workstation.alarms import Priority

WS = "WS"
# Not worth restoring: the shutdown notice itself, and what only informs.
NOT_RESTORED = frozenset({"WS_SHUTDOWN"})
RESTORED_NOTE = " (restored after a workstation restart)"


@dataclass(frozen=True)
class RestoredAlarm:
    source: str  # channel letter or "WS"
    condition: str
    priority: Priority
    text: str
    acknowledged_by: str | None  # acknowledged before the stop (None: not, or anonymous)
    acknowledged: bool


def _starting(row: LogRow) -> bool:
    return row.kind is EventKind.SYSTEM and row.message.startswith("workstation ") \
        and row.message.endswith(" starting")


def _text(row: LogRow, source: str, condition: str, change: str) -> str:
    text = row.message
    prefix, suffix = f"{source}/{condition}: ", f" {change}"
    text = text[len(prefix):] if text.startswith(prefix) else text
    text = text[:-len(suffix)] if text.endswith(suffix) else text
    return text.removesuffix(RESTORED_NOTE)


def alarms_at_stop(rows: Iterable[LogRow]) -> list[RestoredAlarm]:
    """The alarms still shown when the last run stopped: raised in that run (restored ones are
    raised again, so logged again) and neither removed nor acknowledged away."""
    shown: dict[tuple[str, str], RestoredAlarm] = {}
    for row in rows:
        if _starting(row):
            shown.clear()  # the previous run's survivors were raised again in this one
            continue
        if row.kind is not EventKind.ALARM:
            continue
        condition, change = row.data.get("condition"), row.data.get("change")
        priority = row.data.get("priority")
        if not isinstance(condition, str) or not isinstance(change, str):
            continue
        source = row.channel or WS
        key = (source, condition)
        if change == "removed":
            shown.pop(key, None)
        elif change == "acknowledged" and key in shown:
            old = shown[key]
            shown[key] = RestoredAlarm(old.source, old.condition, old.priority, old.text,
                                       row.user, True)
        elif change in ("raised", "repeated", "escalated") and isinstance(priority, str) \
                and priority in Priority.__members__:
            old_ack = shown.get(key)
            shown[key] = RestoredAlarm(source, condition, Priority[priority],
                                       _text(row, source, condition, change),
                                       old_ack.acknowledged_by if old_ack else None,
                                       old_ack.acknowledged if old_ack else False)
    return [a for a in shown.values()
            if a.condition not in NOT_RESTORED and a.priority > Priority.INFO]


def serials_by_channel(rows: Iterable[LogRow]) -> dict[str, int]:
    """The serial last seen in each channel's slot (MODULE events carry it)."""
    out: dict[str, int] = {}
    for row in rows:
        serial = row.data.get("serial")
        if row.kind is EventKind.MODULE and row.channel and isinstance(serial, int) \
                and row.data.get("change") != "answered by two modules":
            out[row.channel] = serial
    return out
