"""One CAN bus, one Notifier, typed frames in and out: shared by the workstation and the pumps.

Like python-canopen's ``Network``: the link owns the bus, decodes every frame with the DBC and
hands good frames to one handler. Bad frames are counted (``stats``) and reported to an error
handler; they never stop reception. A failing bus is reported too, never raised into the
receive path: the owner decides whether to reopen (``reopen_forever`` does it with back-off).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import can

from dbc.codec import FrameCodec, FrameDecoder, FrameEncoder, RxStats
from dbc.errors import BusError, EncodeError, FrameError
from dbc.frames import Frame

__all__ = ["BusSettings", "CanLink", "LinkStats", "TxStats", "matches", "open_bus"]

log = logging.getLogger(__name__)

FrameHandler = Callable[[Frame], None]
RawHandler = Callable[[can.Message], bool]  # True: the message is taken, do not decode it
FrameErrorHandler = Callable[[FrameError, can.Message], None]
BusErrorHandler = Callable[[Exception], None]
HandlerErrorHandler = Callable[[Exception, Frame], None]


@dataclass(frozen=True)
class BusSettings:
    """Which python-can interface and channel to use (``bitrate`` only for real hardware)."""

    interface: str = "virtual"
    channel: str = "icu"
    bitrate: int | None = None

    def describe(self) -> str:
        return f"interface={self.interface!r} channel={self.channel!r}"


def open_bus(settings: BusSettings,
             can_filters: can.typechecking.CanFilters | None = None) -> can.BusABC:
    """Open a python-can bus, turning its many failure types into one clear ``BusError``.

    ``can_filters``: socketcan installs them in the kernel (the process is not woken for other
    identifiers); other interfaces apply them in python-can before ``recv`` returns."""
    kwargs: dict[str, int] = {}
    if settings.bitrate is not None and settings.interface not in ("virtual", "remote"):
        kwargs["bitrate"] = settings.bitrate
    try:
        return can.Bus(interface=settings.interface, channel=settings.channel,
                       can_filters=can_filters, **kwargs)  # type: ignore[arg-type]
    except (can.CanError, OSError, ImportError, ValueError, NotImplementedError) as exc:
        raise BusError(
            f"cannot open CAN bus {settings.describe()}: {exc}. Check the interface name, that "
            "the channel exists and is up, and for 'remote' that the hub is running."
        ) from exc


def matches(filters: can.typechecking.CanFilters, msg: can.Message) -> bool:
    """python-can's filter rule (``BusABC._matches_filters``) for data frames."""
    for f in filters:
        if "extended" in f and f["extended"] != msg.is_extended_id:
            continue
        if (f["can_id"] ^ msg.arbitration_id) & f["can_mask"] == 0:
            return True
    return False


@dataclass
class TxStats:
    frames: int = 0
    errors: int = 0


@dataclass
class LinkStats:
    rx: RxStats
    tx: TxStats = field(default_factory=TxStats)
    handler_errors: int = 0
    bus_failures: int = 0
    error_frames: int = 0  # CAN error frames the controller reported (never decoded)
    filtered: int = 0  # frames outside the receive filters, where python-can filters


class _Listener(can.Listener):
    """Hands frames to the link in the event loop's thread, whatever thread reads the bus."""

    def __init__(self, link: CanLink, loop: asyncio.AbstractEventLoop) -> None:
        self._link = link
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def on_message_received(self, msg: can.Message) -> None:
        # Notifier already marshals into the loop when it was given one; this keeps us
        # correct if it ever calls from its own thread.
        if threading.get_ident() == self._loop_thread:
            self._link._receive(msg)
        else:
            self._loop.call_soon_threadsafe(self._link._receive, msg)

    def on_error(self, exc: Exception) -> None:
        self._loop.call_soon_threadsafe(self._link._bus_failed, exc)


class CanLink:
    """A bus with the DBC codec around it. Use ``async with`` or ``open()``/``close()``."""

    def __init__(
        self,
        settings: BusSettings,
        codec: FrameCodec,
        on_frame: FrameHandler,
        *,
        on_frame_error: FrameErrorHandler | None = None,
        on_bus_error: BusErrorHandler | None = None,
        on_bus_recovered: Callable[[], None] | None = None,
        on_handler_error: HandlerErrorHandler | None = None,
        on_raw: RawHandler | None = None,
        on_error_frame: Callable[[can.Message], None] | None = None,
        can_filters: can.typechecking.CanFilters | None = None,
        name: str = "link",
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.encoder = FrameEncoder(codec)
        self.decoder = FrameDecoder(codec)
        self.stats = LinkStats(rx=self.decoder.stats)
        self.name = name
        self._on_frame = on_frame
        self._on_frame_error = on_frame_error
        self._on_bus_error = on_bus_error
        self._on_bus_recovered = on_bus_recovered
        self._on_handler_error = on_handler_error
        self._on_raw = on_raw
        self._on_error_frame = on_error_frame
        self.can_filters = can_filters
        self._soft_filters: can.typechecking.CanFilters | None = None
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self.failed = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self._bus is not None

    async def open(self) -> None:
        # In the kernel where the interface can (socketcan: error frames pass by their own
        # mask); elsewhere python-can would also drop error frames, so ``_receive`` filters.
        kernel = self.settings.interface == "socketcan"
        self._bus = open_bus(self.settings, self.can_filters if kernel else None)
        self._soft_filters = None if kernel else self.can_filters
        loop = asyncio.get_running_loop()
        self._notifier = can.Notifier(self._bus, [_Listener(self, loop)], timeout=0.05,
                                      loop=loop)
        self.failed.clear()

    async def close(self) -> None:
        notifier, bus = self._notifier, self._bus
        self._notifier = self._bus = None
        if notifier is not None:
            notifier.stop(timeout=0.1)
        if bus is not None:
            try:
                bus.shutdown()
            except (can.CanError, OSError) as exc:  # already broken: nothing left to do
                log.warning("%s: error while closing bus: %s", self.name, exc)

    async def __aenter__(self) -> CanLink:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def send(self, frame: Frame) -> bool:
        """Encode and send; False (and counted, reported) if the bus refused it."""
        try:
            msg = self.encoder.encode(frame)
        except EncodeError:
            self.stats.tx.errors += 1
            raise  # a bug or an unchecked input upstream: the caller must know
        return self.send_raw(msg)

    def send_raw(self, msg: can.Message) -> bool:
        """Send a frame as it is (recordings, fault injection)."""
        bus = self._bus
        if bus is None:
            self.stats.tx.errors += 1
            return False
        try:
            bus.send(msg, timeout=0.05)
        except (can.CanError, OSError) as exc:
            self.stats.tx.errors += 1
            log.warning("%s: send of 0x%03X failed: %s", self.name, msg.arbitration_id, exc)
            if self._on_bus_error is not None:
                self._on_bus_error(exc)
            return False
        self.stats.tx.frames += 1
        return True

    def watch(self, *, on_raw: RawHandler | None = None,
              on_error_frame: Callable[[can.Message], None] | None = None,
              can_filters: can.typechecking.CanFilters | None = None) -> None:
        """Add a raw-frame counter, an error-frame handler and receive filters to a link
        built elsewhere (the bus monitor); filters take effect at the next ``open``."""
        if on_raw is not None:
            self._on_raw = on_raw
        if on_error_frame is not None:
            self._on_error_frame = on_error_frame
        if can_filters is not None:
            self.can_filters = can_filters

    @property
    def bus(self) -> can.BusABC | None:
        """The open python-can bus (its ``state``, for the controller monitor), or None."""
        return self._bus

    def _receive(self, msg: can.Message) -> None:
        if msg.is_error_frame:  # the controller's report, not a frame of the DBC
            self.stats.error_frames += 1
            if self._on_error_frame is not None:
                self._on_error_frame(msg)
            return
        if self._soft_filters is not None and not matches(self._soft_filters, msg):
            self.stats.filtered += 1
            return
        if self._on_raw is not None and self._on_raw(msg):
            return
        try:
            frame = self.decoder.decode(msg)
        except FrameError as exc:
            if self._on_frame_error is not None:
                self._on_frame_error(exc, msg)
            return
        try:
            self._on_frame(frame)
        except Exception as exc:  # a handler bug must not stop reception for everyone else
            self.stats.handler_errors += 1
            log.exception("%s: handler failed on %r", self.name, frame)
            if self._on_handler_error is not None:
                try:  # the owner raises the alarm; its failure must not stop reception either
                    self._on_handler_error(exc, frame)
                except Exception:
                    log.exception("%s: handler-error report failed", self.name)

    def _bus_failed(self, exc: Exception) -> None:
        self.stats.bus_failures += 1
        log.error("%s: bus %s failed: %s", self.name, self.settings.describe(), exc)
        self.failed.set()
        if self._on_bus_error is not None:
            self._on_bus_error(exc)

    async def reopen_forever(self, *, backoff_s: float = 0.5, max_backoff_s: float = 5.0) -> None:
        """Keep the link open: after a failure, close and reopen with back-off. Cancel to stop."""
        delay = backoff_s
        while True:
            await self.failed.wait()
            await self.close()
            while True:
                await asyncio.sleep(delay)
                try:
                    await self.open()
                except BusError as exc:
                    log.error("%s: %s", self.name, exc)
                    delay = min(delay * 2, max_backoff_s)
                    continue
                delay = backoff_s
                log.info("%s: bus %s reopened", self.name, self.settings.describe())
                if self._on_bus_recovered is not None:
                    self._on_bus_recovered()
                break

    async def open_or_retry(self) -> None:
        """Open now if possible; otherwise report the failure and let ``reopen_forever``
        keep trying, so one dead bus does not keep the others from being supervised."""
        try:
            await self.open()
        except BusError as exc:
            self._bus_failed(exc)
