"""Freshness that holds (issue 10, B1; dbc/README.md "Freshness"): ordinary frames never
resynchronise a counter at once, only a BOOT heartbeat with a new boot identity does; a replayed
BOOT is a replay; lost frames on a healthy bus cost a short run, never the module."""

from __future__ import annotations

import random

import can
import pytest

from dbc.codec import FrameDecoder, FrameEncoder
from dbc.errors import CounterError
from dbc.frames import ModuleHeartbeat, Status, WsHeartbeat
from dbc.vocabulary import ModuleKind, ModuleState, WorkstationState
from tests.bus.codec_support import CODEC, STATUS

PERIOD_S = 0.25
BEAT = ModuleHeartbeat(node=STATUS.node, state=ModuleState.OPERATIONAL, kind=ModuleKind.VOLUMETRIC,
                       fw_major=1, fw_minor=0, fw_patch=0, serial=100_005, boot_count=7)
BOOT = BEAT.model_copy(update={"state": ModuleState.BOOT})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def accepts(decoder: FrameDecoder, msg: can.Message) -> bool:
    try:
        decoder.decode(msg)
    except CounterError:
        return False
    return True


def test_two_replayed_consecutive_frames_do_not_resynchronise() -> None:
    """B1: two stale frames in order used to take over the counter (and the genuine sender's
    next frames were then dropped)."""
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    captured = [encoder.encode(STATUS) for _ in range(8)]
    for msg in captured:
        assert accepts(decoder, msg)
    replayed = [accepts(decoder, captured[i]) for i in (1, 2, 3)]
    genuine = [accepts(decoder, encoder.encode(STATUS)) for _ in range(4)]
    assert replayed == [False, False, False]
    assert genuine == [True] * 4
    assert decoder.stats.resyncs == 0


def test_replayed_frames_interleaved_with_a_live_sender_are_mostly_dropped() -> None:
    """A replay of random captured frames between a live sender's frames: only those that fall
    in the 3-wide window by chance (3/15) pass; B1 measured ~60 %."""
    rng = random.Random(10)
    clock = Clock()
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC, clock=clock)
    captured = [encoder.encode(STATUS) for _ in range(16)]
    for msg in captured:
        assert accepts(decoder, msg)
    passed = 0
    genuine_dropped = 0
    for _ in range(400):
        clock.now += PERIOD_S / 2
        passed += accepts(decoder, rng.choice(captured))
        clock.now += PERIOD_S / 2
        genuine_dropped += not accepts(decoder, encoder.encode(STATUS))
    assert passed / 400 < 0.3, f"{passed} of 400 replayed frames accepted"
    assert decoder.stats.resyncs == 0


def test_burst_of_in_order_frames_after_a_jump_does_not_resynchronise() -> None:
    clock = Clock()
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC, clock=clock)
    captured = [encoder.encode(STATUS) for _ in range(10)]
    for msg in captured[6:]:
        assert accepts(decoder, msg)
    # A recorded run of 4 in order, replayed as a burst while the sender is quiet.
    assert [accepts(decoder, m) for m in captured[0:4]] == [False] * 4


def test_lost_frames_cost_a_short_run_never_the_sender() -> None:
    """A healthy sender that lost 5 frames in a row is followed again after a run of 3 frames at
    its period (dbc/README.md, "Freshness" rule 3)."""
    clock = Clock()
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC, clock=clock)
    for _ in range(4):
        clock.now += PERIOD_S
        assert accepts(decoder, encoder.encode(STATUS))
    for _ in range(5):
        encoder.encode(STATUS)  # lost on the bus
    verdicts = []
    for _ in range(6):
        clock.now += PERIOD_S
        verdicts.append(accepts(decoder, encoder.encode(STATUS)))
    assert verdicts == [False, False, True, True, True, True]
    assert decoder.stats.resyncs == 1


def test_two_live_sequences_on_one_identifier_are_reported() -> None:
    """Two modules in one slot (B4): interleaved counters; each conflict is an anomaly."""
    clock = Clock()
    first, second = FrameEncoder(CODEC), FrameEncoder(CODEC)
    decoder = FrameDecoder(CODEC, clock=clock)
    seen: list[tuple[int, int, str]] = []
    decoder.on_anomaly = lambda fid, node, what: seen.append((fid, node, what))
    for _ in range(8):
        second.encode(STATUS)  # the second module's counter is elsewhere
    for _ in range(20):
        clock.now += PERIOD_S / 2
        decoder.decode(first.encode(STATUS))
        clock.now += PERIOD_S / 2
        accepts(decoder, second.encode(STATUS))
    assert ("two-senders" in {what for _, _, what in seen})
    assert {node for _, node, _ in seen} == {STATUS.node}


def test_boot_heartbeat_with_a_new_count_resynchronises_the_node() -> None:
    clock = Clock()
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC, clock=clock)
    for _ in range(5):
        decoder.decode(encoder.encode(BEAT))
        decoder.decode(encoder.encode(STATUS))
    encoder.reset(node=STATUS.node)  # reboot: counters restart, boot count + 1
    reboot = BOOT.model_copy(update={"boot_count": 8})
    assert decoder.decode(encoder.encode(reboot)) == reboot
    assert decoder.decode(encoder.encode(STATUS)) == STATUS
    assert decoder.stats.resyncs == 1


def test_replayed_boot_heartbeat_is_a_replay() -> None:
    """A BOOT heartbeat with the boot count already seen is a recording, not a reboot."""
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    seen: list[str] = []
    decoder.on_anomaly = lambda fid, node, what: seen.append(what)
    boot_msg = encoder.encode(BOOT)
    assert accepts(decoder, boot_msg)
    for _ in range(5):
        decoder.decode(encoder.encode(BEAT))
        decoder.decode(encoder.encode(STATUS))
    with pytest.raises(CounterError, match="replay"):
        decoder.decode(boot_msg)
    assert decoder.decode(encoder.encode(STATUS)) == STATUS  # the node was not resynchronised
    assert seen == ["replay"] and decoder.stats.resyncs == 0


@pytest.mark.parametrize("later", [True, False])
def test_workstation_boot_heartbeat_needs_a_later_wall_clock(later: bool) -> None:
    """Modules accept a workstation's BOOT only with a wall clock past the last heartbeat's."""
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    beat = WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=1000, time_ms=0, timeout_s=3.0)
    for i in range(5):
        decoder.decode(encoder.encode(beat.model_copy(update={"time_s": 1000 + i})))
    encoder.reset()
    boot = beat.model_copy(update={"state": WorkstationState.BOOT,
                                   "time_s": 1010 if later else 1002})
    assert accepts(decoder, encoder.encode(boot)) is later


def _interleave(decoder: FrameDecoder, clock: Clock, first: FrameEncoder,
                second: FrameEncoder, frame: Status | ModuleHeartbeat, period: float,
                rounds: int) -> None:
    for _ in range(rounds):
        clock.now += period / 2
        accepts(decoder, first.encode(frame))
        clock.now += period / 2
        accepts(decoder, second.encode(frame))


@pytest.mark.parametrize(("offset", "survivor"), [
    (o, s) for o in (0, 1, 2, 5, 8, 13, 15) for s in ("first", "second")])
def test_after_a_second_sender_stopped_the_survivor_is_followed(offset: int,
                                                                survivor: str) -> None:
    """B4, after the duplicate: two modules interleave on one Status id, one stops. Whichever
    survives, its frames are accepted again within a few periods and with no anomaly once the
    other has been silent for a while (the view followed the real module again)."""
    clock = Clock()
    first, second = FrameEncoder(CODEC), FrameEncoder(CODEC)
    decoder = FrameDecoder(CODEC, clock=clock)
    seen: list[tuple[float, str]] = []
    decoder.on_anomaly = lambda fid, node, what: seen.append((clock.now, what))
    for _ in range(6):
        clock.now += PERIOD_S
        decoder.decode(first.encode(STATUS))
    for _ in range(offset):
        second.encode(STATUS)
    _interleave(decoder, clock, first, second, STATUS, PERIOD_S, 40)
    alone = first if survivor == "first" else second
    left_at = clock.now
    verdicts = []
    for _ in range(16):
        clock.now += PERIOD_S
        verdicts.append(accepts(decoder, alone.encode(STATUS)))
    assert all(verdicts[4:]), verdicts  # at most 4 periods (1 s) dropped, then followed
    assert not [what for t, what in seen if t > left_at + 1.0], seen


@pytest.mark.parametrize("survivor", ["first", "second"])
def test_a_rare_frame_follows_the_survivor_after_a_second_sender_left(survivor: str) -> None:
    """An Ack-like identifier (a frame per command): after a duplicate left, the surviving
    sequence is followed at its second frame at the latest, not after 3 commands, and the
    other sequence's last frame no longer makes it a conflict (the DUPLICATE_MODULE alarm was
    kept on by each later Ack of the real module)."""
    clock = Clock()
    first, second = FrameEncoder(CODEC), FrameEncoder(CODEC)
    decoder = FrameDecoder(CODEC, clock=clock)
    seen: list[tuple[float, str]] = []
    decoder.on_anomaly = lambda fid, node, what: seen.append((clock.now, what))
    for _ in range(3):
        clock.now += 2.0
        decoder.decode(first.encode(STATUS))
    for _ in range(7):
        second.encode(STATUS)
    _interleave(decoder, clock, first, second, STATUS, 2.0, 5)  # each command acked twice
    alone = first if survivor == "first" else second
    left_at = clock.now
    verdicts = []
    for _ in range(4):
        clock.now += 3.0
        verdicts.append(accepts(decoder, alone.encode(STATUS)))
    assert all(verdicts[1:]), verdicts
    assert not [what for t, what in seen if t > left_at], seen


def test_two_replayed_frames_spread_between_a_live_senders_frames_are_not_followed() -> None:
    """The survivor rule needs the accepted sequence silent: a replay of two captured frames in
    order, spread over a second while the genuine sender goes on, never takes over (B1)."""
    clock = Clock()
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC, clock=clock)
    captured = [encoder.encode(STATUS) for _ in range(8)]
    for _ in range(8):
        clock.now += PERIOD_S
        decoder.decode(encoder.encode(STATUS))
    replayed = []
    for msg in captured[4:8]:  # out of the window: the genuine counter moved on by 8
        clock.now += PERIOD_S / 2
        replayed.append(accepts(decoder, msg))
        clock.now += PERIOD_S / 2
        assert accepts(decoder, encoder.encode(STATUS))
    assert not any(replayed)
    assert decoder.stats.resyncs == 0
