"""MQTT test bench: a real mosquitto on 127.0.0.1 (TLS, users, the example ACL and config) and an
aiomqtt subscriber that records what the broker delivers. A started broker is stopped by
``stop()``, the context manager or the fixtures (also when a test fails), at the latest at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import aiomqtt
import pytest
import trustme

from dbc.shutdown import cancel_and_wait
from tests.buslab import free_port
from workstation.telemetry.broker_url import parse_broker_url

EXAMPLE_CONF = Path(__file__).resolve().parents[1] / "configs" / "mosquitto" / "mosquitto.conf"
EXAMPLE_ACL = EXAMPLE_CONF.with_name("acl")
INSTALL_HINT = "scripts/test.sh installs it"
# The lab's users and passwords: a workstation's MQTT username is its name.
LAB_USERS: Mapping[str, str] = {"ws-1": "ws-1-secret", "ws-2": "ws-2-secret",
                                "monitor": "monitor-secret"}

_ids = itertools.count(1)
_running: weakref.WeakSet[Mosquitto] = weakref.WeakSet()


def find_mosquitto(tool: str = "mosquitto") -> str | None:
    """A mosquitto program; Debian installs the broker in /usr/sbin, often not on PATH."""
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin")


def write_password_file(path: Path, users: Mapping[str, str]) -> Path:
    """A mosquitto password file (sha512-pbkdf2 hashes) made by ``mosquitto_passwd -b``."""
    tool = find_mosquitto("mosquitto_passwd")
    if tool is None:
        pytest.skip(f"mosquitto_passwd not installed: {INSTALL_HINT}")
    path.unlink(missing_ok=True)
    for i, (user, password) in enumerate(users.items()):
        create = ["-c"] if i == 0 else []
        done = subprocess.run([tool, "-H", "sha512-pbkdf2", *create, "-b", str(path), user,
                               password], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mosquitto_passwd for user {user!r} into {path} failed "
                               f"({done.returncode}): {done.stderr.strip() or done.stdout}")
    path.chmod(0o600)
    return path


def write_secret(path: Path, secret: str) -> Path:
    """A client's password file (what ``[telemetry] password_file`` points at), mode 0600."""
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


class TlsMaterial:
    """A throw-away CA (``ca_file``, trustme) and the broker's ``cert_file``/``key_file``."""

    def __init__(self, directory: Path, hostnames: tuple[str, ...] = ("localhost", "127.0.0.1")
                 ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="ICU lab CA")
        server = ca.issue_cert(*hostnames)
        self.ca_file, self.cert_file, self.key_file = (
            directory / name for name in ("ca.pem", "server.pem", "server.key"))
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
        server.private_key_pem.write_to_path(str(self.key_file))
        self.key_file.chmod(0o600)

    def client_context(self) -> ssl.SSLContext:
        """A client's context trusting the lab CA (and only it), hostname checking on."""
        return ssl.create_default_context(cafile=str(self.ca_file))


class Mosquitto:
    """One mosquitto process on 127.0.0.1, on a port that stays the same across restarts.

    Plain and anonymous by default; ``tls`` makes the listener TLS; ``users`` adds a password
    file (anonymous refused) and ``acl_file`` (the example ACL); ``persistence=True`` keeps
    retained messages and durable sessions across ``restart()``. ``config_file`` is written at
    at once (tests/telemetry/conftest.py's ``example_config`` replaces it: the example).
    start/stop/restart block (a few ms; ``start`` at most ``timeout``)."""

    def __init__(self, directory: Path, *, tls: TlsMaterial | None = None,
                 users: Mapping[str, str] | None = None, acl_file: Path | None = EXAMPLE_ACL,
                 persistence: bool = False, port: int | None = None) -> None:
        exe = find_mosquitto()
        if exe is None:  # every test that needs one skips, fixture or not
            pytest.skip(f"mosquitto not installed (PATH, /usr/sbin): {INSTALL_HINT}")
        directory.mkdir(parents=True, exist_ok=True)
        self.exe, self.directory, self.tls, self.persistence = exe, directory, tls, persistence
        self.users: dict[str, str] = dict(users or {})
        self.port = port or free_port()
        self.config_file = directory / "mosquitto.conf"
        self.log_file = directory / "mosquitto.log"  # the broker's log and its stdout/stderr
        self.password_file: Path | None = None
        self.acl_file: Path | None = None
        if self.users:
            self.password_file = write_password_file(directory / "passwd", self.users)
            if acl_file is not None:  # a copy, which a test may change
                self.acl_file = directory / "acl"
                shutil.copyfile(acl_file, self.acl_file)
        self.config_file.write_text(self._config())
        self._proc: subprocess.Popen[bytes] | None = None

    def common_config(self) -> list[str]:
        """The lab's own lines: identity, persistence and logging (after any other config)."""
        # As root, mosquitto would become user "mosquitto", who cannot write our directory.
        return [f"user {pwd.getpwuid(os.geteuid()).pw_name}",
                *(["persistence true", f"persistence_location {self.directory}/"]
                  if self.persistence else ["persistence false"]),
                f"log_dest file {self.log_file}", "connection_messages true",
                *(f"log_type {t}" for t in ("error", "warning", "notice", "information",
                                            "subscribe")),
                "log_timestamp_format %H:%M:%S"]

    def _config(self) -> str:
        tls = self.tls
        lines = ["# written by tests/mqttlab.py", "per_listener_settings false",
                 f"listener {self.port} 127.0.0.1", "set_tcp_nodelay true",
                 *([f"cafile {tls.ca_file}", f"certfile {tls.cert_file}",
                    f"keyfile {tls.key_file}", "tls_version tlsv1.2"] if tls else []),
                 f"allow_anonymous {'false' if self.password_file else 'true'}",
                 *([f"password_file {self.password_file}"] if self.password_file else []),
                 *([f"acl_file {self.acl_file}"] if self.acl_file else [])]
        return "\n".join([*lines, *self.common_config(), ""])

    @property
    def host(self) -> str:
        """The name clients use: ``localhost`` for TLS (checked against the certificate)."""
        return "localhost" if self.tls else "127.0.0.1"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        return self.tls.ca_file if self.tls else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self.running else None

    def log_tail(self, lines: int = 25) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or f"(nothing in {self.log_file})"

    def start(self, timeout: float = 5.0) -> None:
        """Start; returns once this process accepts connections, raises with the log if not."""
        if self.running:
            raise RuntimeError(f"mosquitto on 127.0.0.1:{self.port} is already running")
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as out:
            self._proc = subprocess.Popen([self.exe, "-c", str(self.config_file)],
                                          stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, cwd=self.directory)
        _running.add(self)
        deadline = time.monotonic() + timeout
        while True:
            with self.log_file.open("rb") as log:  # "running": this process, not another one
                log.seek(offset)
                if b" running" in log.read():
                    with socket.socket() as s:
                        if s.connect_ex(("127.0.0.1", self.port)) == 0:
                            return
            if (code := self._proc.poll()) is not None or time.monotonic() > deadline:
                self.stop()
                state = f"exited with {code}" if code is not None else f"not ready in {timeout}s"
                raise RuntimeError(f"mosquitto -c {self.config_file} on 127.0.0.1:{self.port} "
                                   f"{state}; log {self.log_file}:\n{self.log_tail()}")
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (mosquitto saves its persistence), SIGKILL after ``timeout``; waits."""
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop (if running) and start again: same port, same configuration."""
        self.stop()
        self.start()

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, user: str | None = None, *, password: str | None = None,
               identifier: str | None = None, host: str | None = None,
               **kwargs: Any) -> aiomqtt.Client:
        """An aiomqtt client of this broker: the lab CA when TLS, the lab password of ``user``
        unless ``password`` is given. Other keyword arguments go to ``aiomqtt.Client``."""
        if user is not None and password is None:
            password = self.users.get(user)
        kwargs.setdefault("timeout", 3.0)
        if self.tls is not None:
            kwargs.setdefault("tls_context", self.tls.client_context())
        return aiomqtt.Client(host or self.host, self.port, username=user, password=password,
                              identifier=identifier or f"lab-{user or 'anon'}-{next(_ids)}",
                              **kwargs)

    def subscriber(self, *topics: str, user: str | None = None, **kwargs: Any) -> Subscriber:
        """A Subscriber of this broker (lab CA, lab password of ``user``)."""
        return Subscriber(self.url, *topics, ca_file=self.ca_file, username=user,
                          password=self.users.get(user) if user else None, **kwargs)


@atexit.register
def _stop_all() -> None:
    for broker in list(_running):
        broker.stop()


class Received(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool


class _CountingQueue(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's incoming queue, counting what paho handed over (for ``Subscriber.barrier``)."""

    puts = 0

    def put_nowait(self, item: aiomqtt.Message) -> None:
        super().put_nowait(item)
        self.puts += 1


class Subscriber:
    """Records every message; re-subscribes when the broker comes back. ``async with
    Subscriber(url, "icu/#") as sub: msgs = await sub.collect(pred, timeout=5)``"""

    def __init__(self, url: str, *topics: str, qos: int = 1, ca_file: Path | None = None,
                 username: str | None = None, password: str | None = None,
                 identifier: str | None = None, clean_session: bool = True,
                 reconnect: bool = True) -> None:
        self.url = parse_broker_url(url)
        self.topics, self.qos, self.reconnect = topics or ("#",), qos, reconnect
        self.received: list[Received] = []
        self.connections = 0  # successful (re)subscriptions so far
        self.error: Exception | None = None  # the last connection error
        tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None) \
            if self.url.tls else None
        self._client = aiomqtt.Client(self.url.host, self.url.port, username=username,
                                      password=password, tls_context=tls, timeout=3.0,
                                      clean_session=clean_session, queue_type=_CountingQueue,
                                      identifier=identifier or f"lab-sub-{next(_ids)}")
        assert isinstance(self._client._queue, _CountingQueue)
        self._queue = self._client._queue
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscriber:
        connected = self.connections + 1
        self._task = asyncio.create_task(self._run(), name=f"subscriber {self.url}")
        try:
            await self.wait_connected(connected)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        while True:
            try:
                async with self._client:
                    for topic in self.topics:
                        await self._client.subscribe(topic, qos=self.qos)
                    self.connections += 1
                    self._changed.set()
                    async for m in self._client.messages:
                        payload = m.payload if isinstance(m.payload, bytes) \
                            else str(m.payload).encode()
                        self.received.append(Received(m.topic.value, payload, m.qos, m.retain))
                        self._changed.set()
            except aiomqtt.MqttError as exc:
                self.error = exc
                self._changed.set()
                if not self.reconnect:
                    return
            await asyncio.sleep(0.05)

    async def _wait(self, done: Callable[[], bool], timeout: float,
                    describe: Callable[[], str]) -> None:
        """Until ``done()``; AssertionError with ``describe()`` after ``timeout`` s or a stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not done() and not (self._task is not None and self._task.done()):
                    self._changed.clear()
                    await self._changed.wait()
        if done():
            return
        if self._task and self._task.done() and not self._task.cancelled() and \
                (bug := self._task.exception()):
            raise bug
        raise AssertionError(f"subscriber {self._client.identifier} on {self.url} "
                             f"{list(self.topics)}: {describe()} within {timeout}s; last "
                             f"received: {self.received[-5:]}; last error: {self.error!r}")

    async def wait_connected(self, count: int, timeout: float = 5.0) -> None:
        """Until the subscriber has (re)subscribed ``count`` times in all (1: the first time)."""
        await self._wait(lambda: self.connections >= count, timeout,
                         lambda: f"subscribed {self.connections} times, not {count}")

    async def barrier(self, timeout: float = 3.0) -> None:
        """A round trip to the broker (SUBSCRIBE/SUBACK): whatever the broker routed to this
        subscriber before the call is in ``received`` when it returns, since mosquitto sends a
        client's packets in order. How to assert at once that a message was NOT delivered."""
        await self._client.subscribe(f"lab/barrier/{next(_ids)}", qos=0, timeout=timeout)
        await self._wait(lambda: len(self.received) >= self._queue.puts, timeout,
                         lambda: f"recorded {len(self.received)} of {self._queue.puts}")

    def matching(self, predicate: Callable[[Received], bool] = lambda m: True, *,
                 after: int = 0) -> list[Received]:
        return [m for m in self.received[after:] if predicate(m)]

    async def collect(self, predicate: Callable[[Received], bool] = lambda m: True,
                      timeout: float = 5.0, *, count: int = 1, after: int = 0) -> list[Received]:
        """The messages matching ``predicate`` (from ``received[after]`` on) once there are at
        least ``count``; AssertionError listing what did arrive after ``timeout`` seconds."""
        await self._wait(lambda: len(self.matching(predicate, after=after)) >= count, timeout,
                         lambda: f"{len(self.matching(predicate, after=after))} of {count} "
                                 "matching messages")
        return self.matching(predicate, after=after)
