"""Issue 10, black box: an attacker process (``attacker.py``: python-can, cantools, the DBC and
its own CRC, nothing of ours) against the workstation and pump processes, one scenario per row
B1-B8, over a python-can-remote hub and over SocketCAN ``vcan0`` (in the User-Mode Linux guest
``test_vcan.py`` boots; skipped where neither exists).

What each scenario checks: the module side (a pump that hears another sender on its own
identifiers says so and refuses commands, B4; "ran without the workstation" reaches a restarted
workstation, B6), the controller and the load (B7/B8), and the workstation's detection by the
condition names in ``dbc/README.md`` (FOREIGN_SENDER, DUPLICATE_MODULE, REPLAYED_FRAMES...).
Detection latencies are printed (``LATENCY``) for the closing note of the issue.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.events import EventKind
from dbc.vocabulary import AlarmCondition
from tests.buslab import remote_hub
from tests.crossprocess.processes import ProcessRig
from tests.crossprocess.remote import RemoteRig
from tests.crossprocess.rig import Chan, until
from tests.crossprocess.socketcan import SocketcanRig, socketcan_missing
from tests.crossprocess.test_suite import PAIR, dbc, online

FLUID = "program A plasma-lyte-148 rate 100 vtbi 500"
SYRINGE = "program B insulin dose 2 vtbi 50"
# The workstation's detection (dbc/README.md, issue 10).
ANOTHER_SENDER = {"FOREIGN_SENDER", "DUPLICATE_MODULE", "REPLAYED_FRAMES", "IMPLAUSIBLE_DELIVERY",
                  "MODULE_IDENTITY_CHANGED"}


def cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes used so far, from /proc."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def latency(row: str, rig: ProcessRig, since_wall: float) -> None:
    """Detection latency: from the attacker's first frame (its wall clock) to the alarm seen
    through the workstation's command channel (which adds up to one round trip)."""
    print(f"LATENCY {row} {rig.interface}: {time.time() - since_wall:.3f} s")


async def alarm_of(rig: ProcessRig, conditions: set[str], timeout: float, what: str,
                   source: str | None = None) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        return next((a for a in await rig.alarms() if a["condition"] in conditions
                     and (source is None or a["source"] == source)), None)
    return await until(probe, timeout, what)


async def both_infusing(rig: ProcessRig) -> None:
    await rig.start(PAIR, [[1], [2]])  # one pump process per module
    await online(rig, PAIR)
    for program, letter in ((FLUID, "A"), (SYRINGE, "B")):
        await rig.checked(program)
        await rig.checked(f"start {letter}")
        await rig.channel_until(letter, lambda s: s["state"] == "INFUSING", 5, "infusing")


class AttackScenarios:
    def make_rig(self, tmp_path: Path) -> ProcessRig:
        raise NotImplementedError

    @pytest.fixture
    async def rig(self, tmp_path: Path) -> AsyncIterator[ProcessRig]:
        rig = self.make_rig(tmp_path)
        try:
            yield rig
        finally:
            await rig.close()
            print(rig.diagnostics())

    async def test_b1_replayed_module_frames(self, rig: ProcessRig, tmp_path: Path) -> None:
        await both_infusing(rig)
        captured = tmp_path / "node1.jsonl"
        got = await rig.attack("capture", "--seconds", "2", "--out", str(captured),
                               "--ids", "0x301,0x381,0x401,0x701")
        assert got["captured"] >= 20, got
        pump = rig.pumps[rig.group_of(1)]
        mark = len(pump.lines)
        replayed = await rig.attack("replay", "--file", str(captured), "--gap", "0.01")
        # The module hears its own identifiers from someone else: it says so at once.
        await pump.wait_for("conflict: node 1", since=mark, timeout=5)
        found = await alarm_of(rig, ANOTHER_SENDER, 10, "the replay detected")
        latency("B1", rig, replayed["sent_at"])
        assert found["priority"] == "HIGH", found
        assert not await rig.alarm("A", "MODULE_RESTARTED"), "a replay is not a reboot"
        snap = (await rig.status())["A"]
        assert snap["state"] == "INFUSING" and snap["rate_ml_h"] == pytest.approx(100.0)

    async def test_b3_forged_status_with_the_next_counter_and_a_good_crc(
            self, rig: ProcessRig) -> None:
        await both_infusing(rig)
        pump = rig.pumps[rig.group_of(1)]
        mark = len(pump.lines)
        # Air in line and 999 mL/h on a healthy pump at 100 mL/h, CRC right, counter next.
        forged = await rig.attack(
            "forge", "--message", "Pump01_Status", "--listen", "1",
            "--set", f"AlarmBits={int(AlarmCondition.AIR_IN_LINE)}",
            "--set", "ActualRate=999", "--count", "4", "--period", "0.25")
        await pump.wait_for("conflict: node 1", since=mark, timeout=5)
        found = await alarm_of(rig, ANOTHER_SENDER, 10, "the forged Status detected")
        latency("B3", rig, forged["sent_at"])
        assert found["priority"] == "HIGH", found
        snap = (await rig.status())["A"]
        assert snap["state"] == "INFUSING" and snap["rate_ml_h"] == pytest.approx(100.0)

    async def test_b2_forged_pause_and_replayed_start_on_the_workstation_command_id(
            self, rig: ProcessRig, tmp_path: Path) -> None:
        await rig.start(PAIR, [[1, 2]])
        await online(rig, PAIR)
        captured = tmp_path / "commands.jsonl"
        capture = rig.attacker("capture", "--seconds", "4", "--out", str(captured),
                               "--ids", "0x101")
        await asyncio.sleep(0.5)  # the capture has opened its bus (remote: connected)
        await rig.checked(FLUID)
        await rig.checked("start A")
        await rig.finish(capture)
        forged = await rig.attack("forge", "--message", "Pump01_Command", "--counter-from",
                                  str(captured), "--set", "Command=PAUSE", "--set", "Seq=201")
        found = await alarm_of(rig, {"FOREIGN_SENDER"}, 5, "FOREIGN_SENDER on 0x101")
        latency("B2", rig, forged["sent_at"])
        assert found["priority"] == "HIGH" and "0x101" in found["text"], found
        await rig.attack("replay", "--file", str(captured))  # the captured START
        # Whatever the pump did, the nurse is told: a stop nobody commanded is an alarm.
        snap = (await rig.status())["A"]
        if snap["state"] != "INFUSING":
            await alarm_of(rig, {"UNCOMMANDED_STOP"}, 5, "the forged pause is an alarm", "A")

    async def test_b4_a_second_module_process_on_an_existing_node_id(self, rig: ProcessRig
                                                                       ) -> None:
        await both_infusing(rig)
        pump = rig.pumps[rig.group_of(1)]
        mark = len(pump.lines)
        duplicate = await rig.extra_pumps([Chan("A", 1, "volumetric", "duplicate")])
        started = time.time()  # it is on the bus (its first frames follow within 50 ms)
        await pump.wait_for("conflict: node 1", since=mark, timeout=10)
        await duplicate.wait_for("conflict: node 1", timeout=10)
        answer = await rig.ask("pause A")  # a real nurse's command, during the conflict
        assert not answer["ok"] and "NODE_CONFLICT" in answer["error"], answer
        snap = (await rig.status())["B"]
        assert snap["state"] == "INFUSING", snap  # the other slot is not disturbed
        found = await alarm_of(rig, {"DUPLICATE_MODULE"}, 10, "two modules answer in slot 1")
        latency("B4", rig, started)
        assert found["source"] == "A" and found["priority"] == "HIGH", found
        duplicate.kill()
        await pump.wait_for("conflict: node 1: ended", since=mark, timeout=10)
        await rig.checked("pause A")  # commands accepted again: the pump paused
        assert pump.alive  # and it never stopped infusing until then (no crash, no halt)

    @pytest.mark.xfail(strict=False, reason="issue 10, B4 residual: passes in 22 of 24 remote "
                       "runs since the duplicate episode ends; in the others the twin's BOOT "
                       "(a false MODULE_RESTARTED) and its IDLE Status were taken before the "
                       "duplicate was recognised and channel A stayed IDLE after the pause")
    async def test_b4_after_the_duplicate_left_the_view_follows_the_real_pump(
            self, rig: ProcessRig) -> None:
        await both_infusing(rig)
        pump = rig.pumps[rig.group_of(1)]
        mark = len(pump.lines)
        duplicate = await rig.extra_pumps([Chan("A", 1, "volumetric", "duplicate")])
        found = await alarm_of(rig, {"DUPLICATE_MODULE"}, 10, "two modules answer in slot 1")
        duplicate.kill()
        await pump.wait_for("conflict: node 1: ended", since=mark, timeout=10)
        await rig.checked(f"ack {found['id']}")
        await rig.checked("pause A")
        await rig.channel_until("A", lambda s: s["state"] == "PAUSED", 5, "paused")

    async def test_b5_pump_restarted_while_infusing(self, rig: ProcessRig) -> None:
        await both_infusing(rig)
        await rig.fault(1, "reboot")
        restarted = await alarm_of(rig, {"MODULE_RESTARTED"}, 10, "MODULE_RESTARTED", "A")
        assert restarted["priority"] == "HIGH"
        await rig.checked(f"ack {restarted['id']}")
        await rig.checked(FLUID)
        await rig.checked("start A")

        async def gone() -> bool:
            alarm = await rig.alarm("A", "MODULE_RESTARTED")
            return alarm is None or not alarm["active"]
        await until(gone, 10, "MODULE_RESTARTED cleared once reprogrammed and acknowledged")

    async def test_b6_workstation_killed_and_restarted_hears_ran_unsupervised(
            self, rig: ProcessRig, tmp_path: Path) -> None:
        await both_infusing(rig)
        await rig.kill_workstation()
        # The pumps' Status while nobody supervises (heartbeat timeout 3 s): the capture is
        # the evidence that both latched WS_HEARTBEAT_LOST before the workstation returns.
        lost, last = int(AlarmCondition.WS_HEARTBEAT_LOST), dict[int, int]()
        for attempt in range(4):
            captured = tmp_path / f"unsupervised-{attempt}.jsonl"
            await rig.attack("capture", "--seconds", "2", "--out", str(captured),
                             "--ids", "0x301,0x302,0x100")
            for line in captured.read_text().splitlines():
                row = json.loads(line)
                if row["id"] == 0x100:
                    print("B6 WS heartbeat while killed:", row)
                    continue
                decoded = dbc().decode_message(row["id"], bytes.fromhex(row["data"]),
                                               decode_choices=False)
                assert isinstance(decoded, dict)
                last[row["id"]] = int(decoded["AlarmBits"])  # type: ignore[arg-type]
            if {i: bool(b & lost) for i, b in last.items()} == {0x301: True, 0x302: True}:
                break
        else:
            raise AssertionError(f"pumps did not latch WS_HEARTBEAT_LOST within 8 s: {last}")
        await rig.start_workstation()
        for letter in ("A", "B"):
            await rig.channel_until(letter, lambda s: s["state"] == "INFUSING", 10, "adopted")
            alarm = await alarm_of(rig, {"WS_HEARTBEAT_LOST"}, 10,
                                   f"WS_HEARTBEAT_LOST on {letter} after the restart", letter)
            await rig.checked(f"ack {alarm['id']}")
        for letter in ("A", "B"):
            snap = (await rig.status())[letter]
            assert snap["state"] == "INFUSING", snap  # the pumps never stopped

            async def cleared(letter: str = letter) -> bool:
                alarm = await rig.alarm(letter, "WS_HEARTBEAT_LOST")
                return alarm is None or not alarm["active"]
            await until(cleared, 10, f"{letter}: the module released it after the ack")

    async def test_b7_b8_flood_junk_babble_and_error_frames(self, rig: ProcessRig) -> None:
        await both_infusing(rig)
        mark = len(rig.output())
        assert rig.ws is not None
        ws_pid, pump_pids = rig.ws.proc.pid, [p.proc.pid for p in rig.pumps.values()]
        cpu_before, wall_before = (cpu_s([ws_pid]), cpu_s(pump_pids)), time.monotonic()
        junk = rig.attacker("flood", "--ids", "0x000-0x010", "--rate", "500", "--seconds", "12")
        babble = rig.attacker("flood", "--ids", "0x0A0", "--rate", "60", "--seconds", "12")
        deadline = time.monotonic() + 11
        while time.monotonic() < deadline:  # a healthy module never looks lost
            snaps = await rig.status()
            for letter in ("A", "B"):
                assert snaps[letter]["online"] and snaps[letter]["state"] == "INFUSING", \
                    snaps[letter]
            assert await rig.alarm("A", "COMM_LOST") is None
            assert await rig.alarm("B", "COMM_LOST") is None
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - wall_before
        ws_cpu = (cpu_s([ws_pid]) - cpu_before[0]) / elapsed * 100
        pump_cpu = (cpu_s(pump_pids) - cpu_before[1]) / elapsed / len(pump_pids) * 100
        flooded = await rig.finish(junk)
        await rig.finish(babble)
        found = await alarm_of(rig, {"BUS_BABBLING"}, 15, "BUS_BABBLING naming 0x0A0")
        assert "0x0A0" in found["text"] and "0x00" not in found["text"], found
        counters = await rig.counters()
        assert counters["bus"]["can0"]["unknown_ids"].get("0x0A0", 0) > 0, counters
        print(f"FLOOD {rig.interface}: {flooded}; CPU during it: workstation {ws_cpu:.0f} %, "
              f"each pump process {pump_cpu:.0f} % (of one core)")
        # B8: the figures in the event log and the headless status, not only an alarm.
        rows = [r for r in rig.log(EventKind.BUS) if "frames/s" in r.message]
        assert rows and "frame_errors" in rows[-1].data, rows
        await rig.wait_output("bus can0:", since=mark, timeout=5)
        # The controller: error-passive, then bus-off, then restarted.
        await rig.attack("errors", "--kind", "passive", "--count", "3")
        passive = await alarm_of(rig, {"CAN_ERROR_PASSIVE"}, 5, "CAN_ERROR_PASSIVE")
        await rig.attack("errors", "--kind", "busoff")
        await alarm_of(rig, {"CAN_BUS_OFF"}, 5, "CAN_BUS_OFF")
        await rig.attack("errors", "--kind", "restart")

        async def restarted() -> bool:
            alarms = {a["condition"]: a for a in await rig.alarms()}
            return not any(alarms.get(c, {}).get("active") for c in
                           ("CAN_BUS_OFF", "CAN_ERROR_PASSIVE"))
        await until(restarted, 5, "controller back to error-active")
        assert passive["priority"] == "MEDIUM"
        assert (await rig.counters())["rx"]["can0"]["error_frames"] == 5


@pytest.fixture(scope="class")
def attack_hub() -> Iterator[str]:
    with remote_hub() as channel:
        yield channel


class TestRemoteAttacks(AttackScenarios):
    @pytest.fixture(autouse=True)
    def _hub(self, attack_hub: str) -> None:
        self.hub = attack_hub

    def make_rig(self, tmp_path: Path) -> ProcessRig:
        return RemoteRig(tmp_path, self.hub)


@pytest.mark.skipif(socketcan_missing() is not None, reason=str(socketcan_missing()))
class TestSocketcanAttacks(AttackScenarios):
    def make_rig(self, tmp_path: Path) -> ProcessRig:
        return SocketcanRig(tmp_path, "vcan0")
