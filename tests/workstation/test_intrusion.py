"""Another sender on the bus, detected from identifiers and freshness anomalies (pure)."""

from __future__ import annotations

import pytest

from workstation.intrusion import (
    CONFLICT_COUNT,
    QUIET_S,
    REPLAY_COUNT,
    IntrusionMonitor,
    workstation_only,
)


@pytest.mark.parametrize(("frame_id", "name"), [
    (0x100, "WS_Heartbeat"), (0x101, "Command"), (0x11F, "Command"), (0x201, "Program"),
    (0x21F, "Program"), (0x301, None), (0x181, None), (0x701, None), (0x200, None),
    (0x120, None),
])
def test_workstation_only_identifiers(frame_id: int, name: str | None) -> None:
    assert workstation_only(frame_id) == name


def test_a_frame_on_our_id_is_one_finding_naming_the_id_until_quiet() -> None:
    monitor = IntrusionMonitor()
    finding = monitor.own_identifier("icu", 0x103, 1.0)
    assert finding is not None and finding.condition == "FOREIGN_SENDER"
    assert "another sender on id 0x103 (Command, slot 3)" in finding.detail
    assert monitor.own_identifier("icu", 0x103, 2.0) is None  # the same conflict goes on
    assert monitor.own_identifier("icu", 0x203, 2.0) is not None  # another id: its own event
    assert monitor.quiet(2.0 + QUIET_S / 2) == []
    assert monitor.quiet(3.0 + QUIET_S) == [("FOREIGN_SENDER", "icu", 0x103),
                                            ("FOREIGN_SENDER", "icu", 0x203)]
    assert monitor.own_identifier("icu", 0x103, 100.0) is not None  # back: raised again


def test_module_ids_are_never_foreign() -> None:
    assert IntrusionMonitor().own_identifier("icu", 0x303, 0.0) is None


def test_one_stray_replay_is_not_a_finding_a_few_are() -> None:
    monitor = IntrusionMonitor()
    found = [monitor.anomaly("icu", 4, 0x304, "replay", t) for t in range(REPLAY_COUNT)]
    assert found[:-1] == [None] * (REPLAY_COUNT - 1)
    last = found[-1]
    assert last is not None and last.condition == "REPLAYED_FRAMES" and last.node == 4


def test_replays_spread_beyond_the_window_are_faults_not_findings() -> None:
    monitor = IntrusionMonitor()
    assert all(monitor.anomaly("icu", 4, 0x304, "replay", t * 20.0) is None for t in range(10))


def test_two_sequences_are_two_modules_in_the_slot() -> None:
    monitor = IntrusionMonitor()
    found = [monitor.anomaly("icu", 2, 0x302, "two-senders", t) for t in range(CONFLICT_COUNT)]
    last = found[-1]
    assert last is not None and last.condition == "DUPLICATE_MODULE"
    assert "two modules answer in slot 2" in last.detail


def test_an_anomaly_on_our_own_id_is_a_foreign_sender() -> None:
    finding = IntrusionMonitor().anomaly("icu", 0, 0x100, "replay", 0.0)
    assert finding is not None and finding.condition == "FOREIGN_SENDER"
