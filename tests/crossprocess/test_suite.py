"""Cross-process suite, in python-can's back2back pattern: the scenarios once, a transport each.

- ``TestVirtual``: everything in this process on python-can ``virtual`` (the reference: a
  failure here is in our code, not in a transport).
- ``TestRemote``: the workstation and the pumps in separate processes over a python-can-remote
  hub on 127.0.0.1.
- ``TestSocketcan``: the same over real SocketCAN ``vcan0``. Runs where vcan0 is up (a laptop
  with ``modprobe vcan``, or the User-Mode Linux guest that ``test_vcan.py`` boots for it);
  skipped elsewhere.

The workstation process is ``tests/crossprocess/ws_driver.py`` (``icu-ws run --headless`` with a
command channel); the pumps are ``icu-ws pump`` processes. The adapters ("rigs"): ``rig.py`` the
base the scenarios drive, ``processes.py`` the child processes, and a module per transport
(``virtual.py``, ``remote.py``, ``socketcan.py``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import can
import cantools
import pytest

from channels.events import EventKind
from dbc.e2e import protect
from dbc.frames import Status
from tests.buslab import codec, remote_hub
from tests.crossprocess.bus import RawFrame
from tests.crossprocess.processes import ProcessRig
from tests.crossprocess.remote import RemoteRig
from tests.crossprocess.rig import DBC_PATH, Chan, Rig, until
from tests.crossprocess.socketcan import SocketcanRig, socketcan_missing
from tests.crossprocess.virtual import InProcessRig

KINDS = ("volumetric", "syringe")
LABELS = ("CVC distal lumen", "CVC medial lumen", "CVC proximal", "Peripheral L arm",
          "Peripheral R hand", "PICC R arm", "Arterial line", "Nasogastric tube")
EIGHT = [Chan(chr(ord("A") + i), i + 1, KINDS[i % 2], LABELS[i]) for i in range(8)]
PAIR = EIGHT[:2]  # A volumetric in slot 1, B syringe in slot 2
FLUID = "program A plasma-lyte-148 rate 100 vtbi 500"


def status_blocks(lines: list[str], size: int) -> list[tuple[str, list[str]]]:
    """Complete headless status blocks: the ``---`` header and the ``size`` channel lines."""
    blocks = []
    for i, line in enumerate(lines):
        if line.startswith("--- ") and i + size < len(lines):
            blocks.append((line, lines[i + 1:i + 1 + size]))
    return blocks


@functools.cache
def dbc() -> cantools.database.can.Database:
    db = cantools.database.load_file(DBC_PATH)
    assert isinstance(db, cantools.database.can.Database)
    return db


def frame_problems(frames: list[RawFrame]) -> list[str]:
    """Frames that are not an 11-bit identifier of ``dbc/infusion.dbc`` with DLC 8."""
    by_id = {m.frame_id: m for m in dbc().messages}
    problems = []
    for f in frames:
        message = by_id.get(f.arbitration_id)
        if f.arbitration_id < 0:
            problems.append(f"not a classic CAN data frame: {f.line}")
        elif f.extended or f.arbitration_id > 0x7FF:
            problems.append(f"29-bit identifier: {f.line}")
        elif message is None:
            problems.append(f"identifier 0x{f.arbitration_id:03X} not in the DBC: {f.line}")
        elif f.dlc != 8 or message.length != 8:
            problems.append(f"DLC {f.dlc} (DBC {message.length}): {f.line}")
    return problems


def names_of(frames: list[RawFrame]) -> set[str]:
    by_id = {m.frame_id: m.name for m in dbc().messages}
    return {by_id.get(f.arbitration_id, "?") for f in frames}


async def online(rig: Rig, chans: list[Chan], timeout: float = 10.0) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        snaps = await rig.status()
        return snaps if all(snaps[c.letter]["online"] and snaps[c.letter]["state"] == "IDLE"
                            for c in chans) else None
    return await until(probe, timeout, f"channels {[c.letter for c in chans]} online and IDLE")


async def infusing(rig: Rig, program: str, letter: str = "A") -> dict[str, Any]:
    await rig.checked(program)
    await rig.checked(f"start {letter}")
    return await rig.channel_until(letter, lambda s: s["state"] == "INFUSING", 5, "infusing")


def alarm_set(alarms: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(a["source"], a["condition"], a["priority"]) for a in alarms}


class Scenarios:
    """The scenarios; each subclass supplies a rig on its transport (``make_rig``)."""

    def make_rig(self, tmp_path: Path) -> Rig:
        raise NotImplementedError

    @pytest.fixture
    async def rig(self, tmp_path: Path) -> AsyncIterator[Rig]:
        rig = self.make_rig(tmp_path)
        try:
            yield rig
        finally:
            await rig.close()
            if isinstance(rig, ProcessRig):
                print(rig.diagnostics())  # shown by pytest when the test failed

    async def test_discovery_of_eight_modules_in_the_headless_status(self, rig: Rig) -> None:
        # The shipped `icu-ws run --headless` itself (no command channel) and two pump
        # processes of four modules each.
        await rig.start(EIGHT, [[1, 2, 3, 4], [5, 6, 7, 8]], driver=False)
        expected = [c.status_prefix + "IDLE" for c in EIGHT]

        async def block_all_idle() -> str | None:
            for header, block in status_blocks(rig.output(), len(EIGHT)):
                if all(line.startswith(want) for line, want in zip(block, expected,
                                                                   strict=True)):
                    return header
            return None
        header = await until(block_all_idle, 10,
                             "one headless status block with all 8 channels IDLE")
        # A module of the wrong kind or in the wrong slot would be an alarm.
        assert "| no alarms |" in header, header
        assert not [line for line in rig.output() if "*" in line], rig.output()[-20:]
        appeared = {r.channel: r for r in rig.log(EventKind.MODULE)
                    if r.data.get("change") == "appeared"}
        assert set(appeared) == {c.letter for c in EIGHT}
        for c in EIGHT:
            row = appeared[c.letter]
            assert f"slot {c.slot} on can0: {c.kind} module" in row.message
            assert row.data["serial"] == 100_000 + c.slot and row.data["firmware"], row.data

    async def test_program_start_complete_kvo_and_every_frame_is_in_the_dbc(
            self, rig: Rig) -> None:
        await rig.start(PAIR, [[1, 2]])
        await online(rig, PAIR)
        async with rig.capture() as frames:
            await rig.checked("program A plasma-lyte-148 rate 100 vtbi 5")
            await rig.checked("start A")
            snap = await rig.channel_until("A", lambda s: s["state"] == "INFUSING", 5,
                                           "infusing")
            assert snap["drug"] == "Plasma-Lyte 148" and snap["rate_ml_h"] == 100.0
            # 5 mL at 100 mL/h is 3 min of module time: 3 s at speed 60.
            snap = await rig.channel_until("A", lambda s: s["state"] == "KVO", 15,
                                           "KVO after the VTBI")
        assert snap["rate_ml_h"] == pytest.approx(5.0)  # Plasma-Lyte's KVO rate
        assert snap["volume_infused_ml"] == pytest.approx(5.0, abs=0.3)
        await rig.wait_output(PAIR[0].status_prefix + "KVO", timeout=5)
        rows = rig.log(EventKind.PROGRAM, channel="A")
        assert any(r.message.startswith("A: primary sent") for r in rows)
        assert any(r.message.startswith("A: read-back verified") for r in rows)
        assert any(r.message.startswith("A: started") for r in rows)
        states = [r.data.get("state") for r in rig.log(EventKind.STATE, channel="A")]
        assert "INFUSING" in states and "KVO" in states
        assert states.index("KVO") > states.index("INFUSING")
        # Everything on the bus: 11-bit identifiers of the DBC, 8 bytes each.
        assert len(frames) > 20, f"only {len(frames)} frames captured"
        assert frame_problems(frames) == []
        seen = names_of(frames)
        for name in ("WS_Heartbeat", "Pump01_Command", "Pump01_Program", "Pump01_Ack",
                     "Pump01_Readback", "Pump01_Status", "Pump02_Heartbeat"):
            assert name in seen, f"no {name} captured; saw {sorted(seen)}"

    async def test_occlusion_raises_a_high_alarm_and_stops_the_channel(self, rig: Rig) -> None:
        await rig.start(PAIR, [[1, 2]])
        await online(rig, PAIR)
        await infusing(rig, FLUID)
        mark = len(rig.output())
        await rig.fault(1, "occlusion")
        alarm = await until(lambda: rig.alarm("A", "OCCLUSION_DOWNSTREAM"), 10,
                            "occlusion alarm on A")
        assert alarm["priority"] == "HIGH" and alarm["latching"]
        snap = await rig.channel_until("A", lambda s: s["state"] == "ALARM", 5, "pump stopped")
        assert snap["rate_ml_h"] == 0
        await rig.wait_output("*** A: Occlusion downstream", since=mark, timeout=5)
        assert not [a for a in await rig.alarms() if a["source"] == "B"]
        assert (await rig.status())["B"]["state"] == "IDLE"
        rows = rig.log(EventKind.ALARM, channel="A")
        assert any(r.data.get("condition") == "OCCLUSION_DOWNSTREAM"
                   and r.data.get("change") == "raised" for r in rows)

    async def test_pump_process_killed_is_comm_lost_and_recovers_when_restarted(
            self, rig: Rig) -> None:
        await rig.start(PAIR, [[1], [2]])  # one pump process per module
        await online(rig, PAIR)
        await infusing(rig, "program B insulin dose 2 vtbi 50", "B")
        mark = len(rig.output())
        await rig.kill_pumps(rig.group_of(2))
        alarm = await until(lambda: rig.alarm("B", "COMM_LOST"), 8, "COMM_LOST on B")
        assert alarm["priority"] == "HIGH" and alarm["active"]
        snaps = await rig.status()
        assert snaps["B"]["state"] == "OFFLINE" and not snaps["B"]["online"]
        assert snaps["A"]["online"] and snaps["A"]["state"] == "IDLE"
        assert not [a for a in await rig.alarms() if a["source"] == "A"]
        await rig.wait_output("*** B: Channel communication lost", since=mark, timeout=5)

        await rig.start_pumps(rig.group_of(2))  # a new process: the module boots afresh
        snap = await rig.channel_until("B", lambda s: s["online"] and s["state"] == "IDLE", 10,
                                       "back online")
        assert snap["serial"] == 100_002
        lost = await rig.alarm("B", "COMM_LOST")
        assert lost is None or not lost["active"], lost  # condition gone (latched until ack)
        # It came back without its program: the workstation says so.
        restarted = await until(lambda: rig.alarm("B", "MODULE_RESTARTED"), 5,
                                "MODULE_RESTARTED on B")
        assert restarted["priority"] == "HIGH"
        changes = [r.data.get("change") for r in rig.log(EventKind.MODULE, channel="B")]
        assert changes.index("lost") < changes.index("returned")

    async def test_workstation_killed_and_restarted_adopts_the_running_infusion(
            self, rig: Rig) -> None:
        chans = [Chan("A", 1, "syringe", "CVC distal lumen")]
        await rig.start(chans, [[1]])
        await online(rig, chans)
        before = await infusing(rig, "program A noradrenaline dose 0.1 vtbi 50 weight 80")
        await rig.kill_workstation()
        await rig.start_workstation()  # same config, same event log
        discovered = running = None
        deadline = time.monotonic() + 10
        while running is None and time.monotonic() < deadline:
            snap = (await rig.status())["A"]
            now = time.monotonic()
            if discovered is None and snap["state"] not in ("NO MODULE", "OFFLINE"):
                discovered = now
            if discovered is not None and snap["state"] == "INFUSING":
                running = now
            await asyncio.sleep(0.02)
        assert discovered is not None and running is not None, snap
        assert running - discovered <= 1.0, "not INFUSING within a second of discovery"
        snap = await rig.channel_until("A", lambda s: s["drug"] == "Noradrenaline", 5,
                                       "adopted with its drug")
        assert snap["state"] == "INFUSING"  # the pump never stopped
        assert snap["dose"] == pytest.approx(0.1) and snap["rate_ml_h"] == pytest.approx(6.0)
        assert snap["volume_infused_ml"] >= before["volume_infused_ml"]
        adopted = [r for r in rig.log(EventKind.PROGRAM, channel="A") if "adopted" in r.message]
        assert adopted and adopted[-1].data["drug_known"] is True

    async def test_garbage_frames_change_nothing_but_the_error_counters(self, rig: Rig) -> None:
        await rig.start(PAIR, [[1, 2]])
        await online(rig, PAIR)
        await infusing(rig, FLUID)
        alarms_before = alarm_set(await rig.alarms())
        before = await rig.status()
        errors_before = (await rig.counters())["frame_errors"]
        alarm_rows = len(rig.log(EventKind.ALARM))
        status_id = codec().frame_id(Status, 1)
        bad_crc = bytearray(8)
        protect(bad_crc, status_id, 0)
        bad_crc[3] ^= 0xFF
        # 0x7FF and the 29-bit frame are outside the workstation's receive filters (B7):
        # dropped before decoding, not even counted. 0x0A5 is inside a DBC block: foreign.
        rig.send_raw([
            can.Message(arbitration_id=0x7FF, data=b"\x00", is_extended_id=False),
            can.Message(arbitration_id=0x12345678, data=bytes.fromhex("DEADBEEF"),
                        is_extended_id=True),
            can.Message(arbitration_id=0x0A5, data=bytes(8), is_extended_id=False),
            can.Message(arbitration_id=status_id, data=bytes(bad_crc), is_extended_id=False),
        ])

        def grew(errors: dict[str, int], kind: str) -> int:
            return int(errors.get(kind, 0)) - int(errors_before.get(kind, 0))

        async def counted() -> dict[str, int] | None:
            errors: dict[str, int] = (await rig.counters())["frame_errors"]
            return errors if grew(errors, "foreign") >= 1 and grew(errors, "crc") >= 1 else None
        errors = await until(counted, 5, "garbage counted as foreign and CRC errors")
        await asyncio.sleep(0.3)  # the filtered frames, had they passed, are counted by now
        errors = (await rig.counters())["frame_errors"]
        assert grew(errors, "foreign") == 1 and grew(errors, "crc") == 1, errors
        await asyncio.sleep(0.5)  # anything the garbage might have caused has happened
        assert alarm_set(await rig.alarms()) == alarms_before
        after = await rig.status()
        for letter in ("A", "B"):
            for key in ("state", "online", "rate_ml_h", "drug", "alarm_text"):
                assert after[letter][key] == before[letter][key], (letter, key)
        assert len(rig.log(EventKind.ALARM)) == alarm_rows


class TestVirtual(Scenarios):
    def make_rig(self, tmp_path: Path) -> Rig:
        return InProcessRig(tmp_path)


@pytest.fixture(scope="class")
def class_hub() -> Iterator[str]:
    """A python-can-remote hub on 127.0.0.1 for this class only: no other suite's node on it."""
    with remote_hub() as channel:
        yield channel


class TestRemote(Scenarios):
    @pytest.fixture(autouse=True)
    def _hub(self, class_hub: str) -> None:
        self.hub = class_hub

    def make_rig(self, tmp_path: Path) -> Rig:
        return RemoteRig(tmp_path, self.hub)


@pytest.mark.skipif(socketcan_missing() is not None, reason=str(socketcan_missing()))
class TestSocketcan(Scenarios):
    def make_rig(self, tmp_path: Path) -> Rig:
        return SocketcanRig(tmp_path, "vcan0")

