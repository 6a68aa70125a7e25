"""Part 1 of ``bench/workstation.py``: the receive path, frames/s on one pinned core.

A ``Workstation`` with ``demo_config(8)`` adopts eight infusing modules, then takes the
pre-encoded traffic of ``bench/ws_traffic.py`` through ``CanLink._receive`` (the call the
Notifier makes), then the same through a python-can ``virtual`` bus from a sender thread, flat
out and paced at the goal rate. Goal: 2 x a saturated 1 Mbit/s classical CAN bus. Its own
module because its setup, probes and report share the receive path's vocabulary and nothing
with the other parts.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import threading
import time
from pathlib import Path
from typing import Any

import can

from bench.harness import REPO
from bench.timing import pin_to_one_cpu, rate_summary, slice_rate, yes
from bench.ws_traffic import Cursor, rx_channels, rx_stream, rx_warmup
from channels.config import SupervisionConfig
from dbc.codec import FrameEncoder
from dbc.link import CanLink
from workstation.api import Workstation
from workstation.config import demo_config

# Classical CAN, 11-bit id, 8 data bytes, no stuff bits: 111 bits a frame (bench/codec.py).
FRAME_BITS = 111
BUS_CEILING_1M = 1_000_000 / FRAME_BITS
RX_GOAL = 2 * BUS_CEILING_1M

RX_CHANNELS = 8
RX_BLOCK_S = 128  # bus seconds of pre-encoded traffic; a multiple of 16, see rx_stream
RX_CHUNK = 256
RX_SLICES = 5


async def rx_direct(link: CanLink, cursor: Cursor, seconds: float) -> dict[str, Any]:
    """``link._receive`` called in the loop thread: our code alone, no transport. Slices with
    a pause between them, so the supervisor's tick and heartbeat run as they would."""
    receive = link._receive

    def batch() -> int:
        chunk = cursor.next_chunk()
        for msg in chunk:
            receive(msg)
        return len(chunk)

    for _ in range(20):  # warm up
        batch()
    rates: list[float] = []
    for _ in range(RX_SLICES):
        await asyncio.sleep(0.02)  # let the supervisor's tick and heartbeat run between slices
        rates.append(slice_rate(batch, seconds / RX_SLICES))
    return {**rate_summary(rates), "slices": len(rates), "seconds": seconds}


def rx_profile(link: CanLink, cursor: Cursor, frames: int, top: int = 25) -> dict[str, Any]:
    """cProfile of ``frames`` frames through ``link._receive``: where a frame's time goes."""
    receive = link._receive
    msgs = cursor.take(frames)
    profiler = cProfile.Profile()
    profiler.enable()
    for msg in msgs:
        receive(msg)
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = []
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = stats.stats.items()  # type: ignore[attr-defined]
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in sorted(
            rows, key=lambda item: item[1][2], reverse=True)[:top]:
        where = Path(filename)
        try:
            short = str(where.relative_to(REPO))
        except ValueError:
            short = "/".join(where.parts[-2:]) if len(where.parts) > 1 else filename
        entries.append({"function": f"{short}:{line}({func})", "calls": ncalls,
                        "tottime_s": round(tottime, 4), "cumtime_s": round(cumtime, 4),
                        "us_per_frame": round(tottime / len(msgs) * 1e6, 2)})
    by_cum = io.StringIO()
    pstats.Stats(profiler, stream=by_cum).sort_stats("cumulative").print_stats(30)
    return {"frames": len(msgs), "total_s": round(total, 4), "top_tottime": entries,
            "cumulative_text": by_cum.getvalue()}


def _send_thread(bus: can.BusABC, msgs: list[can.Message], rate: float | None,
                 times: dict[str, float], sent: list[int]) -> None:
    """The sender: flat out, or at ``rate`` frames/s; notes its start and end, and how many it
    has sent so far (paced), for the backlog."""
    start = time.perf_counter()
    times["send_start"] = start
    if rate is None:
        for msg in msgs:
            bus.send(msg)
    else:
        for i, msg in enumerate(msgs):
            due = start + i / rate
            ahead = due - time.perf_counter()
            if ahead > 0.001:
                time.sleep(ahead)
            bus.send(msg)
            sent[0] = i + 1
    sent[0] = len(msgs)
    times["send_end"] = time.perf_counter()


async def rx_virtual(link: CanLink, cursor: Cursor, count: int,
                     rate: float | None) -> dict[str, Any]:
    """Send ``count`` frames from another virtual bus in a thread (flat out, or paced at
    ``rate``); time until the link has processed them all."""
    msgs = cursor.take(count)
    stats = link.stats.rx
    first = stats.accepted + stats.rejected
    target = first + len(msgs)
    sender = can.Bus(interface="virtual", channel=link.settings.channel)
    times: dict[str, float] = {}
    sent = [0]
    thread = threading.Thread(target=_send_thread, args=(sender, msgs, rate, times, sent),
                              name="bench-sender", daemon=True)
    backlog_max = 0
    try:
        thread.start()
        deadline = time.perf_counter() + 60.0
        while stats.accepted + stats.rejected < target:
            if time.perf_counter() > deadline:
                break
            if rate is not None:  # frames sent but not yet processed
                backlog_max = max(backlog_max, sent[0] - (stats.accepted + stats.rejected - first))
            await asyncio.sleep(0.002)
        done_at = time.perf_counter()
        thread.join(10)
    finally:
        sender.shutdown()
    processed = stats.accepted + stats.rejected - first
    start, end = times.get("send_start", done_at), times.get("send_end", done_at)
    out: dict[str, Any] = {
        "frames": len(msgs), "processed": processed,
        "frames_per_s": processed / (done_at - start),
        "sender_frames_per_s": len(msgs) / (end - start) if end > start else None,
        "drain_after_last_send_ms": round((done_at - end) * 1000.0, 1),
    }
    if rate is not None:
        out["offered_frames_per_s"] = rate
        out["backlog_max_frames"] = backlog_max
        out["kept_up"] = processed == len(msgs) and (done_at - end) < 0.1
    return out


async def bench_receive(folder: Path, *, seconds: float, virtual_frames: int, paced_s: float,
                        profile: bool) -> dict[str, Any]:
    """Part 1: ``seconds`` of direct receive (in slices), ``virtual_frames`` flat out and
    ``paced_s`` seconds at the goal rate through the virtual bus, pinned and then not."""
    config = demo_config(RX_CHANNELS, channel_prefix="bench-rx", event_log=folder / "rx.db")
    # The minimum 60 s supervision window, so the stream exercises full delivery verdicts.
    config = config.model_copy(update={"supervision": SupervisionConfig(window_s=60.0)})
    chans = rx_channels(config)
    async with Workstation(config, event_log_path=folder / "rx.db") as ws:
        sup = ws.supervisor
        link = sup.links[config.buses[0].name]
        encoder = FrameEncoder(sup.codec)
        warm = [encoder.encode(f) for f in rx_warmup(chans)]
        t = time.perf_counter()
        stream = rx_stream(chans, RX_BLOCK_S)
        wire = [encoder.encode(f) for f in stream]
        encode_s = time.perf_counter() - t
        for msg in warm:
            link._receive(msg)
        cursor = Cursor(wire, RX_CHUNK)
        for _ in range(len(cursor.chunks)):  # one pass: first Status, adoption logged, ...
            for msg in cursor.next_chunk():
                link._receive(msg)
            await asyncio.sleep(0)
        ready = {
            "adopted": sum(c.plan is not None for c in sup.controllers.values()),
            "infusing": sum(c.infusing for c in sup.controllers.values()),
            "alarms": [f"{a.key}" for a in ws.active_alarms()],
        }
        paced_frames = int(RX_GOAL * paced_s)
        before, cpu = pin_to_one_cpu()
        try:
            direct = await rx_direct(link, cursor, seconds)
            flat = await rx_virtual(link, cursor, virtual_frames, None)
            paced = await rx_virtual(link, cursor, paced_frames, RX_GOAL)
            prof = rx_profile(link, cursor, 20_000) if profile else None
        finally:
            if before is not None:
                os.sched_setaffinity(0, before)
        # As deployed: the sender and Notifier threads may run on any CPU (still one GIL).
        flat_free = await rx_virtual(link, cursor, virtual_frames, None)
        paced_free = await rx_virtual(link, cursor, paced_frames, RX_GOAL)
        errors = dict(link.stats.rx.errors)
        handler_errors = link.stats.handler_errors
        alarms_after = [f"{a.key}" for a in ws.active_alarms()]
        events = sup.event_log.last_id()
    kinds: dict[str, int] = {}
    for f in stream:
        kinds[type(f).__name__] = kinds.get(type(f).__name__, 0) + 1
    result: dict[str, Any] = {
        "channels": RX_CHANNELS, "pinned_cpu": cpu,
        "stream": {"bus_seconds": RX_BLOCK_S, "frames": len(wire), "kinds": kinds,
                   "bus_frames_per_s": len(wire) / RX_BLOCK_S,
                   "encode_s": round(encode_s, 3)},
        "setup": ready,
        "direct": direct, "virtual_flat_out": flat, "virtual_paced": paced,
        "virtual_flat_out_unpinned": flat_free, "virtual_paced_unpinned": paced_free,
        "rx_errors": errors, "handler_errors": handler_errors,
        "alarms_after": alarms_after, "event_log_rows": events,
        "goal": {"frames_per_s": RX_GOAL, "reference": "2 x saturated 1 Mbit/s classical CAN "
                 f"({BUS_CEILING_1M:,.0f} frames/s, 111-bit frames)"},
    }
    for key in ("direct", "virtual_flat_out", "virtual_flat_out_unpinned"):
        r = result[key]
        r["ratio_to_1mbit_ceiling"] = r["frames_per_s"] / BUS_CEILING_1M
        r["goal_met"] = r["frames_per_s"] >= RX_GOAL
    if prof is not None:
        result["profile"] = prof
    return result


def print_receive(r: dict[str, Any]) -> None:
    """Part 1's table, from its results (as written to the JSON)."""
    print(f"\n1. Receive path: {r['channels']} channels, one core (CPU {r['pinned_cpu']}); "
          f"stream {r['stream']['frames']:,} frames = {r['stream']['bus_seconds']} s of bus "
          f"time ({r['stream']['bus_frames_per_s']:.0f} frames/s)")
    print("   mix: " + ", ".join(f"{k} {v}" for k, v in r["stream"]["kinds"].items()))
    print(f"   {'':44} {'frames/s':>10} {'x 1 Mbit/s':>11} {'goal':>7}")
    d = r["direct"]
    print(f"   {'link._receive in the loop thread (median)':44} {d['frames_per_s']:>10,.0f} "
          f"{d['ratio_to_1mbit_ceiling']:>10.2f}x {yes(d['goal_met']):>7}")
    for suffix, where in (("", "one core"), ("_unpinned", "any core")):
        f, p = r["virtual_flat_out" + suffix], r["virtual_paced" + suffix]
        label = f"virtual bus + Notifier, flat out, {where}"
        print(f"   {label:44} {f['frames_per_s']:>10,.0f} "
              f"{f['ratio_to_1mbit_ceiling']:>10.2f}x {yes(f['goal_met']):>7}")
        label = f"virtual bus, offered at goal rate, {where}"
        print(f"   {label:44} {p['frames_per_s']:>10,.0f} "
              f"{p['frames_per_s'] / BUS_CEILING_1M:>10.2f}x "
              f"{'kept up' if p['kept_up'] else 'behind':>7}")
    print(f"   direct: best {d['best']:,.0f}, worst {d['worst']:,.0f} frames/s over "
          f"{d['slices']} slices of {d['seconds'] / d['slices']:g} s")
    for suffix, where in (("", "one core"), ("_unpinned", "any core")):
        f, p = r["virtual_flat_out" + suffix], r["virtual_paced" + suffix]
        print(f"   {where}: flat out, sender {f['sender_frames_per_s']:,.0f} frames/s, all "
              f"{f['frames']:,} processed {f['drain_after_last_send_ms']:.0f} ms after the "
              f"last send; paced, max backlog {p['backlog_max_frames']:,} frames, processed "
              f"{p['drain_after_last_send_ms']:.0f} ms after the last")
    print(f"   goal: >= {RX_GOAL:,.0f} frames/s ({r['goal']['reference']}); rx errors "
          f"{r['rx_errors'] or 'none'}, handler errors {r['handler_errors']}, alarms "
          f"{r['alarms_after'] or 'none'}; adopted {r['setup']['adopted']}, infusing "
          f"{r['setup']['infusing']}")
    print("   The virtual bus adds a deepcopy per frame in the sender, a queue.Queue hand-over "
          "to the Notifier thread and a call_soon_threadsafe (self-pipe write, loop wake-up) "
          "per frame, all under one GIL with the sender thread: it measures python-can's "
          "in-process transport as much as our code. socketcan and remote buses have a "
          "fileno() and are read in the loop itself, without that thread.")
    prof = r.get("profile")
    if prof:
        print(f"   cProfile, {prof['frames']:,} frames (tottime, us per frame):")
        for e in prof["top_tottime"][:15]:
            print(f"     {e['us_per_frame']:>7.2f}  {e['calls']:>8}  {e['function']}")
