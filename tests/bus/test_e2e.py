"""E2E protection: CRC-8/AUTOSAR with a per-identifier data id, and alive-counter supervision."""

from __future__ import annotations

import random

import pytest
from cantools import autosar

from dbc.database import load_database
from dbc.e2e import CounterCheck, CounterVerdict, crc8, data_id, protect

RESYNC, STALE, CONFLICT = CounterVerdict.RESYNC, CounterVerdict.STALE, CounterVerdict.CONFLICT
OK, FIRST, REPEATED, JUMP = (CounterVerdict.OK, CounterVerdict.FIRST, CounterVerdict.REPEATED,
                             CounterVerdict.JUMP)
FID = 0x301
OTHER_FID = 0x302


def dbc_ids() -> list[int]:
    return sorted(m.frame_id for m in load_database().messages)


def function_codes() -> dict[int, list[int]]:
    """Function code -> identifiers of the DBC using it (the WS heartbeat shares 0x100)."""
    out: dict[int, list[int]] = {}
    for fid in dbc_ids():
        out.setdefault(fid & ~0x7F, []).append(fid)
    return out


# --- CRC -------------------------------------------------------------------------------------


def test_crc8_matches_cantools_profile2() -> None:
    rng = random.Random(20240611)
    ids = dbc_ids()
    for i in range(4000):
        payload = bytes(rng.getrandbits(8) for _ in range(8))
        fid = ids[i % len(ids)] if i % 2 else rng.randrange(0x800)
        expected = autosar.compute_profile2_crc(payload, data_id(fid))
        assert crc8(payload, fid) == expected, (payload.hex(), hex(fid))
        assert crc8(bytearray(payload), fid) == expected


def test_crc8_is_crc8_autosar() -> None:
    # Catalogue check value of CRC-8/AUTOSAR over "123456789" is 0xDF. Here bytes 1..8 are
    # "12345678" and the data id of identifier 0x039 is 0x39 == ord("9").
    assert data_id(0x039) == ord("9")
    assert crc8(b"\x00" + b"12345678", 0x039) == 0xDF


def test_data_id_is_a_byte() -> None:
    assert all(0 <= data_id(fid) <= 0xFF for fid in range(0x800))


def test_data_id_differs_across_nodes_within_each_function_code() -> None:
    codes = function_codes()
    assert len(codes) == 11
    for code in codes:
        ids = [code + node for node in range(1, 32)]
        if code == 0x100:
            ids.append(0x100)  # the workstation heartbeat is node 0 of the command function
        assert len({data_id(fid) for fid in ids}) == len(ids), hex(code)


def test_workstation_frames_have_data_ids_no_other_identifier_uses() -> None:
    db = load_database()
    sent_by_ws = {m.frame_id for m in db.messages if m.senders == ["WS"]}
    others = [data_id(m.frame_id) for m in db.messages if m.frame_id not in sent_by_ws]
    shared = {hex(fid) for fid in sent_by_ws if data_id(fid) in others}
    assert not shared, f"{len(shared)} of {len(sent_by_ws)} share a data id"


def test_safety_frames_have_data_ids_no_other_identifier_uses() -> None:
    """Alarm, Ack, Readback, Status (the issue's safety frames): none can pass as another."""
    db = load_database()
    safety = {m.frame_id for m in db.messages
              if m.name.split("_", 1)[-1] in {"Alarm", "Ack", "Readback", "Status"}}
    ids = [data_id(m.frame_id) for m in db.messages]
    shared = {hex(fid) for fid in safety if ids.count(data_id(fid)) > 1}
    assert not shared, f"{len(shared)} safety identifiers share a data id: {sorted(shared)[:5]}"


def test_frame_under_another_nodes_identifier_fails_the_crc() -> None:
    rng = random.Random(7)
    for code in function_codes():
        for _ in range(5):
            payload = bytearray(rng.getrandbits(8) for _ in range(8))
            protect(payload, code + 1, rng.randrange(16))
            for node in range(2, 32):
                assert crc8(payload, code + node) != payload[0], (hex(code), node)


def test_any_single_bit_flip_is_detected() -> None:
    rng = random.Random(99)
    for _ in range(50):
        payload = bytearray(rng.getrandbits(8) for _ in range(8))
        fid = rng.choice(dbc_ids())
        protect(payload, fid, rng.randrange(16))
        for bit in range(64):
            corrupt = bytearray(payload)
            corrupt[bit // 8] ^= 1 << (bit % 8)
            assert crc8(corrupt, fid) != corrupt[0], bit


@pytest.mark.parametrize("counter", [0, 1, 7, 15, 16, 31])
def test_protect_writes_counter_then_crc(counter: int) -> None:
    payload = bytearray(b"\x00\xa5\x11\x22\x33\x44\x55\x66")
    protect(payload, FID, counter)
    assert payload[1] == 0xA0 | (counter & 0x0F), "high nibble of byte 1 must be kept"
    assert payload[2:] == b"\x11\x22\x33\x44\x55\x66"
    assert payload[0] == crc8(payload, FID)
    assert autosar.check_profile2_crc(bytes(payload), data_id(FID)) is True


# --- alive counter ---------------------------------------------------------------------------


def feed(check: CounterCheck, counters: list[int], fid: int = FID) -> list[CounterVerdict]:
    return [check.check(fid, c) for c in counters]


def test_first_frame_is_accepted_with_any_counter() -> None:
    for start in range(16):
        assert CounterCheck().check(FID, start) is FIRST


@pytest.mark.parametrize("max_delta", [1, 2, 3, 5])
def test_increments_up_to_max_delta_are_accepted(max_delta: int) -> None:
    for start in range(16):
        for delta in range(1, max_delta + 1):
            check = CounterCheck(max_delta=max_delta)
            assert feed(check, [start, (start + delta) % 16]) == [FIRST, OK], (start, delta)


@pytest.mark.parametrize("max_delta", [1, 3, 5])
def test_too_far_or_backwards_is_a_jump(max_delta: int) -> None:
    for start in range(16):
        for delta in range(max_delta + 1, 16):  # delta 15 == one step backwards
            check = CounterCheck(max_delta=max_delta)
            assert feed(check, [start, (start + delta) % 16]) == [FIRST, JUMP], (start, delta)


def test_repeated_counter_is_rejected() -> None:
    check = CounterCheck()
    assert feed(check, [4, 5, 5]) == [FIRST, OK, REPEATED]
    assert check.check(FID, 6) is OK, "the repeat must not move the reference"


def test_wraps_from_15_to_0() -> None:
    check = CounterCheck()
    assert feed(check, [13, 14, 15, 0, 1]) == [FIRST, OK, OK, OK, OK]
    check = CounterCheck(max_delta=3)
    assert feed(check, [14, 1, 4]) == [FIRST, OK, OK]
    assert feed(CounterCheck(), list(range(16)) * 3)[1:] == [OK] * 47


def test_lost_frames_within_max_delta_are_accepted() -> None:
    check = CounterCheck(max_delta=3)
    assert feed(check, [0, 3, 6, 9, 12, 15, 2]) == [FIRST] + [OK] * 6


def timed(check: CounterCheck, counters: list[int], period_s: float = 0.25,
          fid: int = FID) -> list[CounterVerdict]:
    return [check.check(fid, c, i * period_s) for i, c in enumerate(counters)]


def test_a_run_at_the_senders_period_resynchronises_after_a_jump() -> None:
    check = CounterCheck()
    # a module at counter 9 restarts at 0 (its BOOT heartbeat unheard): 2 frames dropped
    assert timed(check, [7, 8, 9, 0, 1, 2, 3]) == [FIRST, OK, OK, JUMP, JUMP, RESYNC, OK]


def test_two_consecutive_frames_never_resynchronise() -> None:
    """B1: two stale frames in order used to take the counter over."""
    check = CounterCheck()
    assert timed(check, [2, 10, 11, 12]) == [FIRST, JUMP, JUMP, RESYNC]
    check = CounterCheck()
    assert feed(check, [2, 10, 11, 12, 13]) == [FIRST] + [JUMP] * 4  # a burst: no time passed


def test_resynchronisation_needs_consecutive_frames() -> None:
    check = CounterCheck()
    assert timed(check, [2, 10, 12, 14, 15, 0]) == [FIRST, JUMP, JUMP, JUMP, JUMP, RESYNC]


def test_old_sequence_going_on_voids_the_run() -> None:
    check = CounterCheck()
    assert timed(check, [9, 10, 5, 11, 6, 12]) == [FIRST, OK, JUMP, STALE, JUMP, CONFLICT]


def test_stuck_sender_never_resynchronises() -> None:
    check = CounterCheck()
    assert feed(check, [3, 4] + [4] * 40) == [FIRST, OK] + [REPEATED] * 40
    # stuck on a counter far from the reference: a jump every time, never accepted
    check = CounterCheck()
    verdicts = feed(check, [3, 4] + [11] * 40)
    assert verdicts == [FIRST, OK] + [JUMP] * 40
    # a stuck sender replaying one frame after a reboot
    check = CounterCheck()
    assert feed(check, [3, 4, 0, 0, 0, 0]) == [FIRST, OK, JUMP, JUMP, JUMP, JUMP]


def test_identifiers_are_supervised_independently() -> None:
    check = CounterCheck()
    assert check.check(FID, 5) is FIRST
    assert check.check(OTHER_FID, 5) is FIRST
    assert check.check(FID, 6) is OK
    assert check.check(OTHER_FID, 5) is REPEATED
    assert check.check(OTHER_FID, 6) is OK


def test_forget_starts_afresh() -> None:
    check = CounterCheck()
    assert feed(check, [1, 2]) == [FIRST, OK]
    assert feed(check, [2], OTHER_FID) == [FIRST]
    check.forget(FID)
    assert check.check(FID, 2) is FIRST, "after forget any counter is a first frame"
    assert check.check(FID, 3) is OK
    assert check.check(OTHER_FID, 2) is REPEATED, "forget touches one identifier only"
    # forget also drops a pending resynchronisation candidate (10 here): 11 is no resync
    assert feed(check, [10]) == [JUMP]
    check.forget(FID)
    assert feed(check, [3, 11]) == [FIRST, JUMP]
    check.forget(0x7FF)  # unknown identifier: no error
