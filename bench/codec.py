"""Codec throughput on one core, beside what a saturated classical CAN bus can carry.

    python bench/codec.py [--seconds N] [--output PATH]

Measures, single-threaded (pinned to one CPU where the OS allows):

* encode: ``FrameEncoder.encode`` (pydantic model -> signals -> cantools strict encode -> E2E);
* decode: ``FrameDecoder.decode`` (length, CRC, alive counter, cantools decode, range and value
  table checks, pydantic model), over frames pre-encoded with consecutive counters per
  identifier so every frame is accepted;
* cantools: ``Database.decode_message`` of the same frames alone, for reference.

The mix is what a busy bus carries: Status, Delivery, Progress, Heartbeat, Alarm and Program
pages, over 12 modules (``busy_bus_mix`` in ``tests/bus/frame_samples.py``). ``--seconds`` is
the time spent on each of the three measurements (default 4, so ~15 s in all with the DBC load);
each is cut in 5 slices and the median slice rate is reported.

Bus ceiling: a classical CAN data frame with an 11-bit identifier and 8 data bytes has
1 SOF + 11 id + 1 RTR + 1 IDE + 1 r0 + 4 DLC + 64 data + 15 CRC = 98 bits that bit stuffing
applies to, then 1 CRC delimiter + 1 ACK slot + 1 ACK delimiter + 7 EOF = 10 bits, then 3 bits of
interframe space: 111 bits without stuffing. At most one stuff bit per 4 bits after the first
of the stuffed region: floor((98 - 1) / 4) = 24, so 135 bits worst case. A saturated bus
therefore carries bitrate / 111 frames/s at best (9,009/s at 1 Mbit/s, 4,505/s at 500 kbit/s)
and bitrate / 135 in the worst case (7,407/s and 3,704/s). The goal is judged against the
higher, unstuffed figure: the codec must keep up even with frames that need no stuffing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

import can

from bench.harness import environment, parser, write_results
from bench.timing import pin_to_one_cpu, rate_summary, slice_rate
from dbc.codec import FrameCodec, FrameDecoder, FrameEncoder
from tests.bus.frame_samples import ALIVE_PERIOD, busy_bus_mix

NODES = range(1, 13)
GOAL_FACTOR = 5.0
SLICES = 5

# Frame bits (classical CAN, 11-bit id, 8 data bytes); see the module docstring.
STUFFED_REGION_BITS = 1 + 11 + 1 + 1 + 1 + 4 + 64 + 15  # SOF..CRC: 98
TAIL_BITS = 1 + 1 + 1 + 7  # CRC delimiter, ACK slot, ACK delimiter, EOF
IFS_BITS = 3
FRAME_BITS = STUFFED_REGION_BITS + TAIL_BITS + IFS_BITS  # 111
WORST_STUFF_BITS = (STUFFED_REGION_BITS - 1) // 4  # 24
FRAME_BITS_WORST = FRAME_BITS + WORST_STUFF_BITS  # 135
BITRATES = (1_000_000, 500_000)


def bus_ceiling(bitrate: int) -> dict[str, float]:
    return {"bitrate": bitrate, "frames_per_s": bitrate / FRAME_BITS,
            "frames_per_s_worst_stuffing": bitrate / FRAME_BITS_WORST}


def measure(batch: Callable[[], int], seconds: float) -> dict[str, float]:
    """Run ``batch`` (returns frames done) in ``SLICES`` slices of ``seconds / SLICES``."""
    batch()  # warm up
    return rate_summary([slice_rate(batch, seconds / SLICES) for _ in range(SLICES)])


def run(seconds: float) -> dict[str, Any]:
    _, cpu = pin_to_one_cpu()  # for the whole run: nothing else runs in this process
    codec = FrameCodec()
    mix = busy_bus_mix(NODES)

    encoder = FrameEncoder(codec)

    def encode_batch() -> int:
        for frame in mix:
            encoder.encode(frame)
        return len(mix)

    # 16 rounds: each identifier's counter runs 0..15, so the list repeats seamlessly and the
    # decoder's alive-counter check accepts every frame, however often it is replayed.
    pre = FrameEncoder(codec)
    wire: list[can.Message] = [pre.encode(frame) for _ in range(ALIVE_PERIOD) for frame in mix]
    decoder = FrameDecoder(codec)

    def decode_batch() -> int:
        for msg in wire:
            decoder.decode(msg)
        return len(wire)

    db = codec.db
    raw = [(msg.arbitration_id, bytes(msg.data)) for msg in wire]

    def cantools_batch() -> int:
        for fid, data in raw:
            db.decode_message(fid, data, decode_choices=False, scaling=True)
        return len(raw)

    results = {
        "encode": measure(encode_batch, seconds),
        "decode": measure(decode_batch, seconds),
        "cantools_decode": measure(cantools_batch, seconds),
    }
    assert decoder.stats.rejected == 0, decoder.stats.errors

    ceiling_1m = bus_ceiling(1_000_000)["frames_per_s"]
    goal = GOAL_FACTOR * ceiling_1m
    for name, r in results.items():
        r["ratio_to_1mbit_ceiling"] = r["frames_per_s"] / ceiling_1m
        if name != "cantools_decode":
            r["goal_met"] = r["frames_per_s"] >= goal
    return {
        **environment("cantools", "python-can", "pydantic"),
        "pinned_cpu": cpu,
        "seconds_per_measurement": seconds,
        "mix": {"nodes": len(NODES), "frames": len(mix),
                "kinds": sorted({type(f).__name__ for f in mix})},
        "results": results,
        "bus": {
            "frame_bits": FRAME_BITS,
            "frame_bits_worst_stuffing": FRAME_BITS_WORST,
            "how": "11-bit id, 8 data bytes: 98 stuffable bits (SOF..CRC) + 10 (CRC delim, "
                   "ACK, EOF) + 3 IFS = 111 bits; worst case + floor(97/4) = 24 stuff bits "
                   "= 135 bits",
            "ceilings": [bus_ceiling(b) for b in BITRATES],
        },
        "goal": {"factor": GOAL_FACTOR, "reference": "1 Mbit/s, unstuffed",
                 "frames_per_s": goal,
                 "met": all(results[k]["goal_met"] for k in ("encode", "decode"))},
    }


def print_table(report: dict[str, Any]) -> None:
    bus = report["bus"]
    goal = report["goal"]
    print(f"codec on one core (CPU {report['pinned_cpu']}), Python {report['python']}, "
          f"cantools {report['cantools']}, python-can {report['python_can']}")
    print(f"mix: {', '.join(report['mix']['kinds'])} x {report['mix']['nodes']} nodes")
    print()
    print(f"{'':28} {'frames/s':>10} {'x 1 Mbit/s':>11} {'goal':>6}")
    labels = {"encode": "encode (FrameEncoder)", "decode": "decode + E2E (FrameDecoder)",
              "cantools_decode": "cantools decode alone"}
    for key, label in labels.items():
        r = report["results"][key]
        met = "" if "goal_met" not in r else ("met" if r["goal_met"] else "MISSED")
        print(f"{label:28} {r['frames_per_s']:>10,.0f} {r['ratio_to_1mbit_ceiling']:>10.1f}x "
              f"{met:>6}")
    print()
    print(f"saturated classical CAN, 8-byte standard frames ({bus['frame_bits']} bits, "
          f"{bus['frame_bits_worst_stuffing']} with worst-case stuffing):")
    for c in bus["ceilings"]:
        print(f"  {c['bitrate'] / 1e6:g} Mbit/s: {c['frames_per_s']:>6,.0f} frames/s "
              f"({c['frames_per_s_worst_stuffing']:,.0f} worst case)")
    print(f"goal: >= {goal['factor']:g} x the 1 Mbit/s ceiling = {goal['frames_per_s']:,.0f} "
          f"frames/s for encode and decode: {'met' if goal['met'] else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, "codec")
    cli.add_argument("--seconds", type=float, default=4.0,
                     help="time per measurement (three measurements)")
    args = cli.parse_args(argv)
    report = run(args.seconds)
    print_table(report)
    write_results(args.output, report, before="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
