"""The central monitor's screen, fed directly with real payloads; its CLI; its MQTT feed."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from icu_ws import monitor as monitor_cli
from tests.tui.monitor_samples import T0_S, Station
from tui.monitor.app import MonitorApp
from tui.monitor.feed import MqttFeed
from tui.monitor.model import MonitorModel
from tui.monitor.widgets.help import MonitorHelp
from tui.monitor.widgets.lines import LineList
from workstation.config import REPO_ROOT
from workstation.telemetry.connection import BrokerAccess


class Clock:
    def __init__(self) -> None:
        self.now = T0_S

    def __call__(self) -> float:
        return self.now


def screen_lines(widget: LineList) -> list[str]:
    """What the list shows now, line by line."""
    return [widget.render_line(y).text for y in range(widget.scrollable_content_region.height)
            if y + int(widget.scroll_offset.y) < widget.rows]


def make_app() -> tuple[MonitorApp, Clock]:
    clock = Clock()
    return MonitorApp(MonitorModel(), broker="mqtt://broker.test:1883", clock=clock), clock


async def test_alarms_of_several_workstations_in_priority_order() -> None:
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        a, b, c = Station("icu", "bed-1"), Station("icu", "bed-2"), Station("hdu", "bed-4")
        app.ingest(*a.active([a.alarm_info("batt", "LOW", raised=-100, text="Battery low",
                                           source="WS", acknowledged=True)]))
        app.ingest(*b.active([b.alarm_info("occl", "HIGH", raised=-5, source="B"),
                              b.alarm_info("vtbi", "MEDIUM", raised=-50, text="Near end")]))
        app.ingest(*c.alarm(c.alarm_info("air", "HIGH", raised=-75, text="Air in line")))
        await pilot.pause(0.3)  # alarms are drawn within ALARM_COALESCE_S
        lines = screen_lines(app.alarm_list)
        assert [line.split()[:2] for line in lines] == [
            ["***", "hdu/bed-4"], ["***", "icu/bed-2"], ["**", "icu/bed-2"], ["*", "icu/bed-1"]]
        assert "Air in line" in lines[0] and "1m15s" in lines[0] and "unacknowledged" in lines[0]
        assert " B " in lines[1] and "Downstream occlusion" in lines[1]
        assert "icu/bed-2" in lines[2]  # the MEDIUM of bed-2; bed-1's LOW is acknowledged
        assert "Battery low" in lines[3] and "acknowledged" in lines[3] and " WS " in lines[3]
        assert str(app.alarm_list.border_title).startswith("Alarms (4): 2 HIGH · 1 MEDIUM")


async def test_a_workstation_going_offline_is_marked_in_words() -> None:
    app, clock = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        a, b = Station("icu", "bed-1"), Station("icu", "bed-2")
        for ws in (a, b):
            app.ingest(*ws.status())
            app.ingest(*ws.observation("A"))
        app.ingest(*b.active([b.alarm_info("occl")]))
        await pilot.pause(0.6)
        assert not any("OFFLINE" in line for line in screen_lines(app.beds))
        clock.now += 1
        app.ingest(*b.status("offline", reason="connection lost", time=1))
        await pilot.pause(0.6)
        beds = screen_lines(app.beds)
        assert "bed-1" in beds[0] and "online" in beds[0]
        assert "OFFLINE since" in beds[2] and "connection lost" in beds[2]
        assert beds[3].split()[:2] == ["OFFLINE", "A"] and "mL/h" in beds[3]
        assert app.header.info.offline == 1 and app.header.info.stale == 0
        assert "OFFLINE" in screen_lines(app.alarm_list)[0]  # its alarm may be out of date


async def test_a_silent_workstation_becomes_stale() -> None:
    app, clock = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        ws = Station("icu", "bed-1")
        app.ingest(*ws.status(period=10.0))
        app.ingest(*ws.observation("A"))
        await pilot.pause(0.6)
        assert "online" in screen_lines(app.beds)[0]
        clock.now += 31  # 3 x 10 s of silence
        await pilot.pause(0.6)
        beds = screen_lines(app.beds)
        assert "STALE: nothing heard for 31s" in beds[0]
        assert beds[1].split()[:2] == ["STALE", "A"]
        assert app.header.info.stale == 1


async def test_a_burst_of_messages_is_one_repaint(monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        drawn: list[int] = []
        show = app.alarm_list.show
        monkeypatch.setattr(app.alarm_list, "show", lambda *a: (drawn.append(1), show(*a)))
        stations = [Station("icu", f"bed-{i}") for i in range(200)]
        for ws in stations:  # a unit reconnecting: 200 retained lists and observations
            app.ingest(*ws.active([ws.alarm_info("occl", raised=-1)]), True)
            app.ingest(*ws.observation("A"), True)
        await pilot.pause(0.3)
        assert 1 <= len(drawn) <= 2  # the coalesced alarm draw and perhaps one repaint
        assert len(app.model.alarms(T0_S)) == 200
        await pilot.pause(0.5)  # the beds follow at the next repaint (2 Hz)
        assert app.beds.rows == 400


async def test_keys_help_scroll_and_quit() -> None:
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for i in range(40):
            app.ingest(*Station("icu", f"bed-{i}").observation("A"))
        await pilot.pause(0.6)
        assert app.focused is app.beds
        await pilot.press("pagedown")
        assert app.beds.scroll_offset.y > 0
        await pilot.press("question_mark")
        assert isinstance(app.screen, MonitorHelp)
        await pilot.press("escape")
        assert not isinstance(app.screen, MonitorHelp)
        await pilot.press("tab")
        assert app.focused is app.alarm_list
        await pilot.press("q")
        await pilot.pause(0.1)
    assert app.return_code == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_no_broker_shows_disconnected_and_keeps_retrying() -> None:
    feed = MqttFeed(BrokerAccess.build(f"mqtt://127.0.0.1:{free_port()}"), retry_s=0.05)
    app = MonitorApp(MonitorModel(), feed=feed)
    async with app.run_test(size=(120, 40)) as pilot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not app.connection.startswith("disconnected"):
            assert loop.time() < deadline, app.connection
            await pilot.pause(0.05)
        assert "DISCONNECTED" in app.header.render().plain
        assert feed.broker in app.header.render().plain


def test_cli_help_says_what_it_does() -> None:
    result = subprocess.run([sys.executable, "-m", "icu_ws.monitor", "--help"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            check=False, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: icu-ws monitor ")
    assert monitor_cli.HELP in result.stdout and "--mqtt URL" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--mqtt", "http://broker:1883"], "--mqtt: broker URL 'http://broker:1883': scheme"),
    (["--mqtt", "mqtt://broker:99999"], "--mqtt: broker URL"),
    (["--mqtt", "mqtt://broker", "--password-file", "/nonexistent/pw"], "/nonexistent/pw: "),
    (["--mqtt", "mqtts://broker", "--ca-file", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
    (["--mqtt", "mqtt://broker", "--topic-root", "a/b"], "--topic-root 'a/b'"),
])
def test_cli_errors_are_one_line_and_exit_2(args: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert monitor_cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"icu-ws monitor: {message}") and err.count("\n") == 1, err


def test_cli_bad_url_through_a_process_has_no_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "icu_ws.monitor", "--mqtt", "x"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
