"""The bus recorder: record a real conversation, read it back, decode it, replay it, rotate."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import can
import pytest

from dbc import recorder
from dbc.link import BusSettings
from dbc.recorder import BusRecorder, read_log
from dbc.vocabulary import ModuleKind
from icu_ws import record as recorder_cli
from pumps.module import Fault, SimulatedModule
from pumps.rack import PumpRack
from tests.bus import frame_samples
from tests.buslab import codec, remote_hub
from workstation.config import demo_config
from workstation.demo import demo_workstation

ROOT = Path(__file__).resolve().parents[2]


def icu_ws(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run one of the recorder's subcommands in-process, as ``icu-ws`` would."""
    parser = argparse.ArgumentParser(prog="icu-ws")
    recorder_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def frames(path: Path) -> list[can.Message]:
    with can.LogReader(path) as reader:
        return list(reader)


def status_stream(count: int) -> list[can.Message]:
    """Pre-encoded Status frames of 4 nodes with consecutive alive counters."""
    return frame_samples.status_stream(codec(), count, nodes=range(1, 5))


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def record_rack(path: Path, channel: str, seconds: float) -> int:
    settings = BusSettings("virtual", channel)
    modules = [SimulatedModule(1, ModuleKind.VOLUMETRIC), SimulatedModule(2, ModuleKind.SYRINGE)]
    async with BusRecorder(settings, path) as rec, PumpRack(settings, modules, codec=codec()):
        await asyncio.sleep(seconds)
    return rec.frames


async def test_records_a_workstation_conversation_and_decodes_it(
        tmp_path: Path, virtual_channel: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(2, channel_prefix=virtual_channel, event_log=tmp_path / "events.db")
    out = tmp_path / "conversation.blf"
    async with BusRecorder(config.buses[0].settings(), out) as rec, \
            demo_workstation(config=config, event_log=tmp_path / "events.db") as (_, racks):
        await asyncio.sleep(1.5)
        racks[0][1].inject(Fault.CORRUPT, 1)
        await asyncio.sleep(0.5)
    recorded = frames(out)
    assert rec.frames > 20 and len(recorded) == rec.frames
    ids = {m.arbitration_id for m in recorded}
    assert {0x100, 0x301, 0x302, 0x701, 0x702} <= ids  # the workstation's own frames too
    assert "frames in" in rec.summary() and str(out) in rec.summary()

    code, text, _ = icu_ws(["decode", str(out)], capsys)
    assert code == 0
    assert "Pump01_Status" in text and "State=" in text and "WS_Heartbeat" in text
    assert "Pump02_Heartbeat" in text and "Kind=SYRINGE" in text
    assert "# by error: crc 1" in text

    code, text, _ = icu_ws(["decode", str(out), "--errors-only"], capsys)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert code == 0 and len(lines) == 1 and "ERROR crc" in lines[0]
    assert " 1  " in lines[0]  # node 1

    code, text, _ = icu_ws(["decode", str(out), "--node", "2", "--limit", "5"], capsys)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert code == 0 and len(lines) == 5 and all("Pump02_" in line for line in lines)


async def test_record_buses_writes_one_file_per_bus(tmp_path: Path,
                                                    virtual_channel: str) -> None:
    config = demo_config(40, channel_prefix=virtual_channel, event_log=tmp_path / "events.db")
    assert [b.name for b in config.buses] == [f"{virtual_channel}0", f"{virtual_channel}1"]
    reports: list[str] = []
    with can.Bus(interface="virtual", channel=f"{virtual_channel}1") as bus:
        async with recorder.record_buses(config.bus_settings(), tmp_path / "run.asc",
                                         report=reports.append) as recorders:
            bus.send(status_stream(1)[0])
            await wait_until(lambda: recorders[1].frames == 1)
    paths = [tmp_path / f"run-{virtual_channel}0.asc", tmp_path / f"run-{virtual_channel}1.asc"]
    assert [r.path for r in recorders] == paths and all(p.is_file() for p in paths)
    assert [len(frames(p)) for p in paths] == [0, 1]
    assert len(reports) == 2 and "recorded 1 frames" in reports[1]


@pytest.mark.parametrize("suffix", [".blf", ".asc", ".log", ".csv"])
async def test_every_format_reads_back_what_was_on_the_bus(
        tmp_path: Path, virtual_channel: str, suffix: str) -> None:
    out = tmp_path / f"blast{suffix}"
    sent = status_stream(300)
    with can.Bus(interface="virtual", channel=virtual_channel) as sender:
        async with BusRecorder(BusSettings("virtual", virtual_channel), out) as rec:
            for msg in sent:
                sender.send(msg)
            await wait_until(lambda: rec.frames == len(sent))
    got = list(read_log(out))
    assert [(m.arbitration_id, bytes(m.data)) for m in got] == \
        [(m.arbitration_id, bytes(m.data)) for m in sent]


async def test_max_bytes_rotates_into_several_files(tmp_path: Path, virtual_channel: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rotating.blf"
    sent = status_stream(2000)
    with can.Bus(interface="virtual", channel=virtual_channel) as sender:
        async with BusRecorder(BusSettings("virtual", virtual_channel), out,
                               max_bytes=16_000) as rec:
            for msg in sent:
                sender.send(msg)
            await wait_until(lambda: rec.frames == len(sent))
    files = rec.files
    assert len(files) >= 3 and all(p.is_file() for p in files)
    assert sorted(tmp_path.glob("rotating*.blf")) == sorted(files)
    assert sum(len(frames(p)) for p in files) == len(sent)
    assert [m.data for p in files for m in frames(p)] == [m.data for m in sent]


def test_replay_sends_the_same_frames_in_order_with_the_recorded_spacing(
        tmp_path: Path, virtual_channel: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rack.blf"
    asyncio.run(record_rack(out, virtual_channel, 1.6))
    recorded = frames(out)
    span = recorded[-1].timestamp - recorded[0].timestamp
    assert len(recorded) > 20 and span > 1.0

    target = f"{virtual_channel}-replay"
    received: list[can.Message] = []
    with can.Bus(interface="virtual", channel=target) as listener:
        start = time.monotonic()
        code, text, _ = icu_ws(["replay", str(out), "--interface", "virtual",
                                "--channel", target], capsys)
        took = time.monotonic() - start
        while (msg := listener.recv(0)) is not None:
            received.append(msg)
    assert code == 0 and f"replayed {len(recorded)} frames" in text
    assert [(m.arbitration_id, bytes(m.data)) for m in received] == \
        [(m.arbitration_id, bytes(m.data)) for m in recorded]
    assert took >= 0.5 * span
    assert received[-1].timestamp - received[0].timestamp >= 0.5 * span

    start = time.monotonic()
    code, text, _ = icu_ws(["replay", str(out), "--interface", "virtual", "--channel", target,
                            "--speed", "4"], capsys)
    assert code == 0 and time.monotonic() - start < 0.8 * span


def test_record_and_replay_loop_as_processes_stop_cleanly_on_signals(
        tmp_path: Path, virtual_channel: str) -> None:
    source, out = tmp_path / "rack.blf", tmp_path / "hub.log"
    asyncio.run(record_rack(source, virtual_channel, 0.6))

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "icu_ws.record", *args], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    with remote_hub() as channel:
        rec = start("record", str(out), "--interface", "remote", "--channel", channel)
        assert rec.stderr is not None and "recording" in rec.stderr.readline()
        player = start("replay", str(source), "--interface", "remote", "--channel", channel,
                       "--loop")
        time.sleep(2.5)
        player.send_signal(signal.SIGTERM)
        played, player_err = player.communicate(timeout=10)
        time.sleep(0.3)
        rec.send_signal(signal.SIGINT)
        summary, rec_err = rec.communicate(timeout=10)
    assert player.returncode == 0 and "Traceback" not in player_err, player_err
    assert rec.returncode == 0 and "Traceback" not in rec_err, rec_err
    sent = int(played.split()[1])
    assert "pass(es)" in played and sent > 2 * len(frames(source))
    assert f"recorded {sent} frames" in summary and str(out) in summary
    assert len(frames(out)) == sent
    text = "\n".join(recorder.decode_lines(out))
    assert "Pump01_Status" in text and "Pump02_Syringe" in text


@pytest.mark.parametrize(("argv", "expected"), [
    (["decode", "{tmp}/missing.blf"], "no such file"),
    (["decode", "{tmp}/notes.txt"], "unknown log format '.txt'"),
    (["decode", "{tmp}/garbage.blf"], "not a readable .blf log"),
    (["replay", "{tmp}/missing.blf", "--interface", "virtual", "--channel", "x"],
     "no such file"),
    (["replay", "{tmp}/garbage.blf", "--interface", "virtual", "--channel", "x", "--speed", "0"],
     "--speed 0.0: must be > 0"),
    (["record", "{tmp}/out.blf", "--interface", "no-such-interface", "--channel", "x"],
     "cannot open CAN bus interface='no-such-interface'"),
    (["record", "{tmp}/out.xyz", "--interface", "virtual", "--channel", "x"],
     "unknown log format '.xyz'"),
    (["record", "{tmp}/no/such/dir/out.blf", "--interface", "virtual", "--channel", "x"],
     "does not exist"),
])
def test_bad_input_is_one_clear_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        expected: str) -> None:
    (tmp_path / "garbage.blf").write_bytes(b"this is not a BLF file at all" * 20)
    (tmp_path / "notes.txt").write_text("hello\n")
    code, out, err = icu_ws([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2
    assert expected in err and err.startswith(f"icu-ws {argv[0]}: ")
    assert "Traceback" not in err and not out


def test_run_record_keeps_a_recording_of_the_buses(tmp_path: Path) -> None:
    out = tmp_path / "integration-run.blf"
    with remote_hub() as channel:
        pumps = subprocess.Popen(
            [sys.executable, "-m", "icu_ws.cli", "pump", "--node", "1:volumetric",
             "--interface", "remote", "--channel", channel], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert pumps.stdout is not None
            for line in pumps.stdout:  # ready when it says so (EOF if it died)
                if "pumps: nodes" in line:
                    break
            config = tmp_path / "ws.toml"
            config.write_text(
                f'event_log = "{tmp_path / "events.db"}"\n'
                f'[[buses]]\nname = "can0"\ninterface = "remote"\nchannel = "{channel}"\n'
                '[[channels]]\nletter = "A"\nslot = 1\nkind = "volumetric"\n'
                'label = "Central"\n')
            ws = subprocess.run(
                [sys.executable, "-m", "icu_ws.cli", "run", "--config", str(config),
                 "--headless", "--duration", "4", "--record", str(out)],
                cwd=ROOT, capture_output=True, text=True, timeout=60)
        finally:
            pumps.terminate()
            pumps.communicate(timeout=10)
    assert ws.returncode == 0, ws.stdout + ws.stderr
    assert "recorded " in ws.stdout and "frames in" in ws.stdout and str(out) in ws.stdout
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copyfile(out, artifacts / "integration-run.blf")
    lines = list(recorder.decode_lines(out))
    assert sum("Pump01_Status" in line and "State=" in line for line in lines) >= 8
    assert any("WS_Heartbeat" in line for line in lines)
    assert lines[-1] == "# by error: none"
