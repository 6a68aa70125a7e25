"""Record, replay and decode bus traffic (the commands are in ``icu_ws.record``).

    async with BusRecorder(BusSettings("socketcan", "vcan0"), "out.blf"):
        ...  # every frame on vcan0 goes to out.blf

A recorder opens **its own connection** to the bus, with its own Notifier thread, instead of
hooking into a ``CanLink``: python-can allows one Notifier per bus object, a link replaces its bus
when it reopens, and file I/O stays off the workstation's event loop. A second connection sees
every frame, the workstation's own included: on ``virtual`` every other bus object of the channel
gets a copy, ``socketcan`` loops sent frames back to the host's other sockets, and each ``remote``
client is its own bus on the hub. (An adapter that cannot be opened twice cannot be recorded.)

Formats by extension: .blf, .asc, .log (candump -l; ``cantools decode`` reads it), .csv.
``decode`` judges each frame as the workstation does: CRC, alive counter, ranges, value tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import can

from dbc.codec import FrameCodec, FrameDecoder
from dbc.errors import BusError, FrameError, InfusionError
from dbc.link import BusSettings, open_bus

__all__ = [
    "BusRecorder", "RecordingError", "bus_file", "check_format", "decode_lines", "read_log",
    "record_buses", "replay",
]

log = logging.getLogger(__name__)

FORMATS = (".blf", ".asc", ".log", ".csv")
Report = Callable[[str], None]


class RecordingError(InfusionError):
    """A log file that cannot be written or read, or an unusable option."""


def check_format(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise RecordingError(f"{path}: unknown log format {path.suffix or '(no extension)'!r}; "
                             f"use one of {', '.join(FORMATS)}")


def bus_file(path: Path, bus: str) -> Path:
    """``out.blf`` for bus ``can1`` -> ``out-can1.blf``."""
    return path.with_name(f"{path.stem}-{bus}{path.suffix}")


class _Tally(can.Listener):
    """Counts frames (in the Notifier's thread) and remembers a bus failure."""

    def __init__(self) -> None:
        self.frames = 0
        self.error: Exception | None = None

    def on_message_received(self, msg: can.Message) -> None:
        self.frames += 1

    def on_error(self, exc: Exception) -> None:
        self.error = exc
        log.error("recorder: bus failed, recording stopped: %s", exc)


class BusRecorder:
    """Every frame on one bus to a log file; ``max_bytes`` > 0 rotates files (python-can's
    ``SizedRotatingLogger``: full files are renamed ``STEM_DATE_#NNN.EXT``, the newest part stays
    at ``path``). Use ``with`` or ``async with``; ``summary()`` after it stopped."""

    def __init__(self, settings: BusSettings, path: Path | str, *, max_bytes: int = 0) -> None:
        self.settings = settings
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.tally = _Tally()
        self.duration_s = 0.0
        self._rotated: list[Path] = []
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._started = 0.0

    @property
    def frames(self) -> int:
        return self.tally.frames

    @property
    def files(self) -> list[Path]:  # oldest first
        return [*self._rotated, self.path]

    def start(self) -> None:
        check_format(self.path)
        if self.max_bytes < 0:
            raise RecordingError(f"--max-bytes {self.max_bytes}: must be >= 0")
        if not self.path.parent.is_dir():
            raise RecordingError(f"{self.path}: folder {self.path.parent} does not exist")
        bus = open_bus(self.settings)
        writer: can.Listener
        try:
            if self.max_bytes:
                writer = rotating = can.SizedRotatingLogger(self.path, max_bytes=self.max_bytes)
                rotating.namer = self._name_rotated
            else:
                writer = can.Logger(self.path)
        except (OSError, ValueError) as exc:
            bus.shutdown()
            raise RecordingError(f"{self.path}: cannot write: {exc}") from exc
        self._bus = bus
        self._notifier = can.Notifier(bus, [writer, self.tally], timeout=0.05)
        self._started = time.monotonic()

    def _name_rotated(self, default: str | os.PathLike[str]) -> str | os.PathLike[str]:
        self._rotated.append(Path(default))
        return default

    def stop(self) -> None:
        notifier, bus = self._notifier, self._bus
        self._notifier = self._bus = None
        if notifier is not None:
            notifier.stop(timeout=0.5)  # also stops (flushes, closes) the writer
            self.duration_s = time.monotonic() - self._started
        if bus is not None:
            with contextlib.suppress(can.CanError, OSError):
                bus.shutdown()

    def __enter__(self) -> BusRecorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> BusRecorder:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def summary(self) -> str:
        rate = self.frames / self.duration_s if self.duration_s > 0 else 0.0
        files = ", ".join(str(p) for p in self.files)
        text = (f"recorded {self.frames} frames in {self.duration_s:.1f} s "
                f"({rate:.0f} frames/s) from {self.settings.describe()} to {files}")
        if self.tally.error is not None:
            text += f"; the bus failed, recording stopped early: {self.tally.error}"
        return text


@contextlib.asynccontextmanager
async def record_buses(buses: Mapping[str, BusSettings], path: Path | None, *,
                       report: Report | None = None) -> AsyncIterator[list[BusRecorder]]:
    """Record every bus (name -> settings) while the block runs (nothing if ``path`` is None):
    ``path`` itself for one bus, ``bus_file(path, name)`` for each of several."""
    if path is None:
        yield []
        return
    several = len(buses) > 1
    recorders = [BusRecorder(settings, bus_file(path, name) if several else path)
                 for name, settings in buses.items()]
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [(report or log.info)(r.summary()) for r in recorders
                                if r.duration_s > 0])
        for recorder in recorders:
            stack.enter_context(recorder)
        yield recorders


# -- reading ---------------------------------------------------------------------------------
def read_log(path: Path) -> Generator[can.Message, None, None]:
    """The frames of a log file; a missing, unknown or damaged file is a ``RecordingError``."""
    check_format(path)
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    try:
        with can.LogReader(path) as reader:
            yield from reader
    except Exception as exc:  # each reader fails its own way: BLFParseError, struct.error, ...
        raise RecordingError(f"{path}: not a readable {path.suffix} log: "
                             f"{type(exc).__name__}: {exc}") from exc


async def replay(bus: can.BusABC, path: Path, *, speed: float = 1.0,
                 stop: asyncio.Event | None = None) -> int:
    """Send a recording's frames with their recorded spacing (divided by ``speed``), as
    ``can.MessageSync(..., timestamps=True)`` does, but stoppable and without blocking the
    loop. Error frames are skipped. Returns the number of frames sent."""
    stop = stop or asyncio.Event()
    sent = 0
    start = time.perf_counter()
    first: float | None = None
    for msg in read_log(path):
        if msg.is_error_frame:
            continue
        if first is None:
            first = msg.timestamp
        due = start + (msg.timestamp - first) / speed
        while (delay := due - time.perf_counter()) > 0.0005 and not stop.is_set():
            await asyncio.sleep(min(delay, 0.1))
        if stop.is_set():
            break
        msg.channel = None  # the bus's own channel, whatever the recording's was
        try:
            bus.send(msg, timeout=0.5)
        except (can.CanError, OSError) as exc:
            raise BusError(f"sending frame 0x{msg.arbitration_id:03X} failed: {exc}") from exc
        sent += 1
        if sent % 256 == 0:
            await asyncio.sleep(0)  # let signals in during dense stretches
    return sent


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)  # ints, and choices by name (cantools NamedSignalValue)


def decode_lines(path: Path, *, errors_only: bool = False, node: int | None = None,
                 limit: int = 0, codec: FrameCodec | None = None) -> Iterator[str]:
    """One line per frame, then a summary by message and by error kind."""
    codec = codec or FrameCodec()
    decoder = FrameDecoder(codec)
    by_message: Counter[str] = Counter()
    by_error: Counter[str] = Counter()
    first, last, read, shown = None, 0.0, 0, 0
    for msg in read_log(path):
        if first is None:
            first = msg.timestamp
            yield f"# {path}: times in s from the first frame ({time.ctime(first)})"
        last, read = msg.timestamp, read + 1
        spec = None if msg.is_extended_id else codec.spec_for_id(msg.arbitration_id)
        error: FrameError | None = None
        try:
            decoder.decode(msg)
        except FrameError as exc:
            error = exc
        if (node is not None and (spec is None or spec.node != node)) \
                or (errors_only and error is None):
            continue
        name = spec.message.name if spec is not None else "?"
        who = "-" if spec is None else ("WS" if spec.node == 0 else str(spec.node))
        head = f"{msg.timestamp - first:12.6f} 0x{msg.arbitration_id:03X} {name:16} {who:>2}"
        if error is not None:
            by_error[error.kind] += 1
            text = f"ERROR {error.kind}: {error}"
        else:
            assert spec is not None
            values = cast(dict[str, Any], spec.message.decode(
                bytes(msg.data), decode_choices=True, scaling=True))
            text = " ".join(f"{k}={_format_value(v)}" for k, v in values.items() if k != "Crc")
        by_message[name] += 1
        yield f"{head}  {text}"
        shown += 1
        if limit and shown >= limit:
            break
    span = last - first if first is not None else 0.0
    yield (f"# {shown} frames shown of {read} read over {span:.3f} s: "
           f"{shown - sum(by_error.values())} good, {sum(by_error.values())} rejected")
    yield "# by message: " + (", ".join(f"{k} {v}" for k, v in sorted(by_message.items()))
                              or "none")
    yield "# by error: " + (", ".join(f"{k} {v}" for k, v in by_error.most_common()) or "none")


# -- commands --------------------------------------------------------------------------------
