"""When the telemetry link becomes a bedside alarm: pure decisions on a fake clock."""

from __future__ import annotations

from workstation.telemetry.health import BACKLOG, DROPPING, LINK_LOST, Action, TelemetryHealth


def decided(health: TelemetryHealth, now: float, **kw: object) -> set[tuple[str, str]]:
    args: dict[str, object] = {"connected": True, "backlog": 0, "oldest_age_s": None,
                               "dropped": 0, "broker": "mqtt://b:1883"} | kw
    return {(d.action.name, d.condition) for d in health.update(now, **args)}  # type: ignore[arg-type]


def test_a_short_reconnect_is_no_alarm_a_long_one_is() -> None:
    h = TelemetryHealth(link_lost_after_s=10, backlog_after_s=30)
    assert decided(h, 0, connected=False) == set()
    assert decided(h, 9.9, connected=False) == set()
    assert decided(h, 10.0, connected=False) == {("RAISE", LINK_LOST)}
    assert decided(h, 11.0, connected=False) == set()  # raised once
    assert decided(h, 12.0, connected=True) == {("CLEAR", LINK_LOST)}


def test_never_connected_counts_from_the_start() -> None:
    h = TelemetryHealth(link_lost_after_s=5, backlog_after_s=30)
    h.started(100.0)
    assert decided(h, 104.0, connected=False) == set()
    assert decided(h, 105.0, connected=False) == {("RAISE", LINK_LOST)}


def test_backlog_is_by_age_of_the_oldest_message_and_clears_when_delivered() -> None:
    h = TelemetryHealth(link_lost_after_s=10, backlog_after_s=30)
    assert decided(h, 0, backlog=500, oldest_age_s=29.0) == set()
    assert decided(h, 1, backlog=500, oldest_age_s=31.0) == {("RAISE", BACKLOG)}
    assert decided(h, 2, backlog=3, oldest_age_s=0.5) == {("CLEAR", BACKLOG)}


def test_dropping_stays_until_the_backlog_is_delivered_and_repeats_with_new_drops() -> None:
    h = TelemetryHealth(link_lost_after_s=10, backlog_after_s=30)
    assert decided(h, 0, backlog=100, oldest_age_s=1.0, dropped=7) == {("RAISE", DROPPING)}
    assert decided(h, 1, backlog=100, oldest_age_s=2.0) == set()
    again = h.update(2, connected=True, backlog=100, oldest_age_s=2.0, dropped=3, broker="b")
    assert [(d.action, d.condition) for d in again] == [(Action.RAISE, DROPPING)]
    assert "3 oldest messages dropped" in again[0].detail
    assert decided(h, 3, backlog=0) == {("CLEAR", DROPPING)}
    assert h.active == frozenset()
