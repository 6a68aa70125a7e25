"""The CAN controller's state and the bus load (issue 10, B7/B8): pure, explicit clock."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import can

from channels.events import Event, EventKind
from dbc.frames import Frame
from dbc.link import BusSettings, CanLink
from tests.buslab import codec
from workstation.bus_health import (
    BABBLING,
    BUS_OFF,
    ERR_BUSOFF,
    ERR_CNT,
    ERR_CRTL,
    ERR_RESTARTED,
    PASSIVE,
    BusHealth,
    cycle_times,
)
from workstation.bus_monitor import BusMonitor, workstation_filters
from workstation.telemetry.mapping import TelemetryMapper
from workstation.telemetry.topics import Topics

STATUS_1 = 0x301  # 250 ms
ALARM_1 = 0x081  # on event


def health() -> BusHealth:
    return BusHealth(cycle_times(codec().db), window_s=10.0)


def feed(h: BusHealth, ident: int, per_s: float, seconds: float, start: float = 0.0) -> float:
    n = int(per_s * seconds)
    for i in range(n):
        h.frame(ident, start + i / per_s)
    return start + seconds


def test_a_normal_bus_is_no_babble_and_gives_its_figures() -> None:
    h = health()
    feed(h, STATUS_1, 4, 10)
    changes, summary = h.evaluate(10.0)
    assert changes == [] and summary is not None
    assert summary.babbling == {} and summary.unknown == {}
    assert 3.5 < summary.frames_per_s < 4.5 and summary.state == "ERROR_ACTIVE"
    assert "4 frames/s" in summary.line()


def test_an_identifier_far_above_its_cycle_rate_is_babbling_until_it_calms_down() -> None:
    h = health()
    end = feed(h, STATUS_1, 100, 10)  # a Status at 100/s instead of 4/s
    changes, summary = h.evaluate(end)
    assert [(c.condition, c.present) for c in changes] == [(BABBLING, True)]
    assert "0x301" in changes[0].detail and summary is not None
    assert "babbling 0x301" in summary.line()
    end = feed(h, STATUS_1, 4, 10, end)
    changes, _ = h.evaluate(end)
    assert [(c.condition, c.present) for c in changes] == [(BABBLING, False)]


def test_an_event_identifier_is_babbling_above_its_event_rate_and_unknown_ids_counted() -> None:
    h = health()
    feed(h, ALARM_1, 50, 10)
    feed(h, 0x0A5, 2, 10)  # not in the DBC, inside a block the workstation receives
    changes, summary = h.evaluate(10.0)
    assert summary is not None and set(summary.babbling) == {ALARM_1}
    assert summary.unknown == {0x0A5: 20} and "20 frames on 1 unknown ids" in summary.line()
    assert changes[0].condition == BABBLING


def test_error_frames_report_passive_bus_off_and_restart_at_once_with_the_counters() -> None:
    h = health()
    h.error_frame(ERR_CRTL | ERR_CNT, bytes([0, 0x20, 0, 0, 0, 0, 130, 5]), 1.0)
    changes, summary = h.evaluate(1.0)
    assert summary is None  # the window is not over: state changes do not wait for it
    assert [(c.condition, c.present) for c in changes] == [("CAN_ERROR_PASSIVE", True)]
    assert (h.tx_errors, h.rx_errors) == (130, 5) and h.state == PASSIVE
    h.error_frame(ERR_BUSOFF, bytes(8), 2.0)
    changes, _ = h.evaluate(2.0)
    assert {(c.condition, c.present) for c in changes} == {("CAN_ERROR_PASSIVE", False),
                                                           ("CAN_BUS_OFF", True)}
    assert h.state == BUS_OFF
    h.error_frame(ERR_RESTARTED, bytes(8), 3.0)
    changes, _ = h.evaluate(3.0)
    assert [(c.condition, c.present) for c in changes] == [("CAN_BUS_OFF", False)]
    _, summary = h.evaluate(11.0)
    assert summary is not None and summary.error_frames == 3


def test_an_interface_that_always_says_active_does_not_clear_an_error_frame_state() -> None:
    h = health()
    h.error_frame(ERR_CRTL, bytes([0, 0x10, 0, 0, 0, 0, 0, 0]), 1.0)
    h.controller_state("ACTIVE")  # remote, virtual, socketcan: BusABC's default
    assert h.state == PASSIVE
    h.controller_state("ERROR")  # hardware that reports it
    assert h.state == BUS_OFF
    h.controller_state("ACTIVE")
    assert h.state == "ERROR_ACTIVE"


def test_the_workstation_filters_take_the_dbc_blocks_and_drop_the_low_junk() -> None:
    bus = can.Bus(interface="virtual", channel="ws-filters", can_filters=workstation_filters(
        codec()))
    try:
        def passes(ident: int, extended: bool = False) -> bool:
            return bus._matches_filters(can.Message(arbitration_id=ident,
                                                    is_extended_id=extended))
        assert all(passes(m.frame_id) for m in codec().db.messages)
        assert not any(passes(i) for i in range(0x000, 0x080))
        assert not passes(0x7FF) and not passes(0x301, extended=True)
    finally:
        bus.shutdown()


class Station:
    """The two station entry points the monitor uses, recorded (the real Station is tested
    end to end in tests/crossprocess)."""

    def __init__(self) -> None:
        self.frame_errors: Counter[str] = Counter({"foreign": 7, "crc": 2})
        self.conditions: list[tuple[str, bool, str]] = []
        self.events: list[Event] = []

    def workstation_condition(self, condition: str, present: bool, detail: str = "") -> None:
        self.conditions.append((condition, present, detail))

    def record(self, event: Event) -> Event:
        self.events.append(event)
        return event


def test_the_monitor_raises_conditions_and_logs_a_periodic_summary_with_the_counters() -> None:
    station, now = Station(), [0.0]
    monitor = BusMonitor(station, codec(), ["can0"], lambda: now[0])
    count = monitor.raw_handler("can0")
    for i in range(1000):
        now[0] = i / 100
        assert count(can.Message(arbitration_id=STATUS_1, is_extended_id=False)) is False
    monitor.error_frame_handler("can0")(can.Message(
        arbitration_id=ERR_CRTL, data=bytes([0, 0x10, 0, 0, 0, 0, 0, 0]), is_error_frame=True))
    now[0] = 10.0
    monitor.tick()
    assert ("CAN_ERROR_PASSIVE", True) in [(c, p) for c, p, _ in station.conditions]
    assert any(c == BABBLING and p and "can0: 0x301" in d for c, p, d in station.conditions)
    summary = [e for e in station.events if e.kind is EventKind.BUS and "frames/s" in e.message
               and "raised" not in e.message]
    assert len(summary) == 1
    assert "receive errors crc 2, foreign 7" in summary[0].message
    assert summary[0].data["error_frames"] == 1
    assert summary[0].data["frame_errors"] == {"foreign": 7, "crc": 2}
    assert monitor.figures()["can0"]["babbling"] == {"0x301": 100.0}
    assert "babbling 0x301" in monitor.line("can0")


async def test_a_filtered_link_drops_junk_but_passes_error_frames_to_the_monitor() -> None:
    """python-can's own software filter would drop error frames too: the link filters."""
    settings = BusSettings("virtual", "error-frames")
    got: list[can.Message] = []
    frames: list[Frame] = []
    link = CanLink(settings, codec(), frames.append, on_error_frame=got.append,
                   can_filters=workstation_filters(codec()))
    sender = can.Bus(interface="virtual", channel="error-frames")
    try:
        await link.open()
        sender.send(can.Message(arbitration_id=0x005, data=bytes(8), is_extended_id=False))
        sender.send(can.Message(arbitration_id=ERR_BUSOFF, data=bytes(8), is_error_frame=True,
                                is_extended_id=False))
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        assert len(got) == 1 and got[0].arbitration_id == ERR_BUSOFF
        assert link.stats.error_frames == 1 and link.stats.filtered == 1
        assert link.stats.rx.errors.get("foreign", 0) == 0 and frames == []
    finally:
        await link.close()
        sender.shutdown()


def test_the_telemetry_status_carries_the_bus_figures_and_receive_errors() -> None:
    station, now = Station(), [0.0]
    monitor = BusMonitor(station, codec(), ["can0"], lambda: now[0])
    count = monitor.raw_handler("can0")
    for i in range(400):
        now[0] = i / 40
        count(can.Message(arbitration_id=STATUS_1, is_extended_id=False))
    now[0] = 10.0
    monitor.tick()
    mapper = TelemetryMapper(Topics("icu", "icu-3", "bed-7", "ws-7"))
    payload = mapper.status("online", bus=monitor.figures(),
                            frame_errors=dict(station.frame_errors))
    data = json.loads(payload.model_dump_json())
    assert data["bus"]["can0"]["controller_state"] == "ERROR_ACTIVE"
    assert data["bus"]["can0"]["babbling"] == {"0x301": 40.0}
    assert data["frame_errors"] == {"foreign": 7, "crc": 2}
