"""What a restarted workstation takes over from its event log (issue 10, B6): pure, on rows."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.events import EventKind, LogRow
from workstation.alarms import Priority
from workstation.restart_memory import RESTORED_NOTE, alarms_at_stop, serials_by_channel

_ids = iter(range(1, 10_000))


def row(kind: EventKind, message: str, channel: str | None = None, user: str | None = None,
        **data: object) -> LogRow:
    return LogRow(next(_ids), datetime.now(UTC), 0.0, kind, channel, user, message, dict(data))


def alarm(source: str, condition: str, change: str, text: str = "Something",
          priority: str = "HIGH", user: str | None = None) -> LogRow:
    return row(EventKind.ALARM, f"{source}/{condition}: {text} {change}",
               None if source == "WS" else source, user, alarm_id=1, priority=priority,
               change=change, condition=condition)


START = row(EventKind.SYSTEM, "workstation icu starting", channels=["A"])


def test_raised_and_not_removed_is_restored_with_its_text() -> None:
    rows = [START, alarm("A", "OCCLUSION_DOWNSTREAM", "raised", "Occlusion downstream"),
            alarm("WS", "FOREIGN_SENDER", "raised", "Another sender: id 0x101"),
            alarm("A", "NEAR_END", "raised", "Infusion near end", "LOW"),
            alarm("A", "NEAR_END", "removed", "Infusion near end", "LOW")]
    restored = alarms_at_stop(rows)
    assert [(a.source, a.condition, a.priority, a.text) for a in restored] == [
        ("A", "OCCLUSION_DOWNSTREAM", Priority.HIGH, "Occlusion downstream"),
        ("WS", "FOREIGN_SENDER", Priority.HIGH, "Another sender: id 0x101")]


def test_a_latched_alarm_whose_condition_cleared_is_still_shown() -> None:
    rows = [START, alarm("B", "AIR_IN_LINE", "raised"), alarm("B", "AIR_IN_LINE",
                                                               "condition_cleared")]
    assert [a.condition for a in alarms_at_stop(rows)] == ["AIR_IN_LINE"]


def test_acknowledged_and_still_present_comes_back_acknowledged() -> None:
    rows = [START, alarm("B", "OCCLUSION_DOWNSTREAM", "raised"),
            alarm("B", "OCCLUSION_DOWNSTREAM", "acknowledged", user="nurse1")]
    (restored,) = alarms_at_stop(rows)
    assert restored.acknowledged and restored.acknowledged_by == "nurse1"


def test_only_the_last_run_counts_and_notes_do_not_pile_up() -> None:
    old = alarm("A", "COMM_LOST", "raised")
    again = alarm("A", "FOREIGN_SENDER", "raised", "Another sender" + RESTORED_NOTE)
    restored = alarms_at_stop([START, old, START, again])
    assert [(a.condition, a.text) for a in restored] == [("FOREIGN_SENDER", "Another sender")]


def test_the_shutdown_notice_is_not_restored() -> None:
    assert alarms_at_stop([START, alarm("WS", "WS_SHUTDOWN", "raised", priority="MEDIUM")]) == []


def test_the_last_serial_per_channel() -> None:
    rows = [row(EventKind.MODULE, "slot 1 appeared", "A", serial=100_001, change="appeared"),
            row(EventKind.MODULE, "slot 2 appeared", "B", serial=100_002, change="appeared"),
            row(EventKind.MODULE, "slot 1 replaced", "A", serial=100_009, change="kind changed"),
            row(EventKind.MODULE, "two", "A", serial=100_777, change="answered by two modules")]
    assert serials_by_channel(rows) == {"A": 100_009, "B": 100_002}
