"""``icu-ws run``, ``icu-ws demo`` and ``icu-ws check-config``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.resources
import sys
import tomllib
from pathlib import Path
from typing import Any

from channels.druglib import load_drug_library
from dbc.errors import ConfigError, InfusionError
from dbc.shutdown import stop_on_signals
from icu_ws.fault_panel import demo_simulator
from tui.fault_simulator import FaultSimulator
from workstation.config import (
    DEFAULT_LIBRARY,
    UiConfig,
    WorkstationConfig,
    demo_config,
    load_config,
)
from workstation.demo import DEMO_USER, demo_workstation, ensure_demo_user, start_demo_infusions
from workstation.headless import run_headless
from workstation.telemetry.broker_url import parse_broker_url
from workstation.telemetry.connection import BrokerAccess
from workstation.telemetry.embedded_broker import EmbeddedBroker
from workstation.users import UserStore

RUN_HELP = "supervise the pump modules of a configured CAN bus"
DEMO_HELP = "run the workstation with simulated pump modules on an in-process bus"
CHECK_HELP = "check workstation configs and drug libraries; exit 1 on any problem"
# The example config shipped as package data of ``configs`` (works from any directory, in a
# checkout or an installed wheel). ``run`` does not fall back to it: a workstation started in
# the wrong directory must fail, not supervise the example's channels.
EXAMPLE_CONFIG = Path(str(importlib.resources.files("configs") / "workstation.toml"))


def _presentation_options(p: argparse.ArgumentParser) -> None:
    """How ``run`` and ``demo`` show the workstation: terminal UI or headless lines."""
    p.add_argument("--headless", action="store_true",
                   help="no terminal UI: status lines and alarms on stdout")
    p.add_argument("--no-bell", action="store_true", help="never ring the terminal bell")
    p.add_argument("--duration", type=float, default=0.0,
                   help="stop after this many seconds (default: until SIGINT/SIGTERM)")
    p.add_argument("--status-every", type=float, default=5.0, metavar="S",
                   help="seconds between status blocks in headless mode (default 5)")


MQTT_HELP = ("publish telemetry to this MQTT broker: mqtt://HOST:PORT, or mqtts://HOST:PORT "
             "for TLS (user, password file and CA come from the config's [telemetry])")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("run", help=RUN_HELP, description=RUN_HELP + ".")
    p.add_argument("--config", type=Path, default=Path("configs/workstation.toml"),
                   help="workstation config (default: configs/workstation.toml in the "
                        "working directory)")
    p.add_argument("--mqtt", metavar="URL", default=None,
                   help=MQTT_HELP + "; overrides [telemetry] url and enables it")
    _presentation_options(p)
    p.add_argument("--record", type=Path, default=None, metavar="FILE",
                   help="record the buses to FILE (.blf, .asc, .log, .csv) while running; "
                        "FILE-BUS.EXT per bus when there are several")
    p.set_defaults(handler=run)

    d = sub.add_parser("demo", help=DEMO_HELP, description=DEMO_HELP + ": embedded defaults, "
                       "nothing to configure. Every channel starts a typical ICU infusion.")
    d.add_argument("--channels", type=int, default=8, help="number of channels (default 8)")
    d.add_argument("--speed", type=float, default=1.0,
                   help="module clock speed factor: 60 runs an hour in a minute (default 1)")
    _presentation_options(d)
    d.add_argument("--event-log", type=Path, default=Path("var/demo-events.db"),
                   help="event log file (default var/demo-events.db)")
    d.add_argument("--idle", action="store_true", help="do not start demo infusions")
    d.add_argument("--mqtt", metavar="URL", default=None,
                   help=MQTT_HELP + " (default: an embedded broker on 127.0.0.1, free port; "
                   "its address is in the event log and on stdout)")
    d.add_argument("--no-mqtt", action="store_true", help="publish no telemetry")
    d.set_defaults(handler=demo)

    c = sub.add_parser("check-config", help=CHECK_HELP, description=CHECK_HELP + ".")
    c.add_argument("files", nargs="*", type=Path,
                   help="TOML files: workstation configs or drug libraries (default: the "
                        "example config and the shipped library, installed with icu-ws)")
    c.set_defaults(handler=check_config)


async def _run(args: argparse.Namespace) -> int:
    from dbc.recorder import record_buses
    from workstation.api import Workstation

    args.stop = stop_on_signals()  # from the start: a signal during set-up also stops cleanly
    config = with_broker(load_config(args.config), args.mqtt)
    async with record_buses(config.bus_settings(), args.record, report=print), \
            Workstation(config) as ws:
        if not args.headless:  # the terminal UI starts locked: who can unlock it
            print(users_note(config, args.config), file=sys.stderr, flush=True)
        return await _present(ws, args, simulator=None)


def users_note(config: WorkstationConfig, config_path: Path) -> str:
    """Where the users who unlock are; how to add the first one."""
    path = config.ui.users_file
    try:
        count = len(UserStore(path).users())
    except ConfigError as exc:
        return f"icu-ws: nobody can unlock: {exc}"
    if not count:
        return f"icu-ws: no users in {path}: nobody can unlock; add one with: icu-ws user " \
               f"add NAME --role nurse --config {config_path}"
    return f"icu-ws: {count} user(s) in {path}; unlock with Ctrl+K, user name, PIN"


async def _present(ws: Any, args: argparse.Namespace, simulator: FaultSimulator | None, *,
                   user: str = "nurse") -> int:
    """The terminal UI, or headless output; both end on SIGINT/SIGTERM or --duration.
    ``simulator``: the demo's simulated modules, for the UI's fault screen (the demo starts
    unlocked; ``run`` starts locked). Returns the exit status: non-zero when the UI crashed."""
    stop: asyncio.Event = args.stop
    if args.headless:
        await run_headless(ws, stop, duration=args.duration or None,
                           status_every_s=args.status_every)
        return 0
    from tui.app import InfusionApp

    app = InfusionApp(ws, simulator=simulator, bell=False if args.no_bell else None,
                      locked=simulator is None, user=user)
    if args.duration:
        asyncio.get_running_loop().call_later(args.duration, app.exit)

    async def exit_on_signal() -> None:
        await stop.wait()
        app.exit()

    watcher = asyncio.create_task(exit_on_signal())
    try:
        await app.run_async()
    finally:
        watcher.cancel()
    if app.return_code:
        print(f"icu-ws: the terminal UI stopped with an error (status {app.return_code}); "
              "the pumps keep running", file=sys.stderr)
    return app.return_code or 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


def with_broker(config: WorkstationConfig, url: str | None, *,
                outbox: Path | None = None) -> WorkstationConfig:
    """The config with telemetry enabled towards ``url`` (checked), or unchanged for None."""
    if url is None:
        return config
    try:
        parse_broker_url(url)
    except ValueError as exc:
        raise ConfigError("--mqtt", [str(exc)]) from None
    update: dict[str, Any] = {"enabled": True, "url": url}
    if outbox is not None:
        update["outbox"] = outbox
    return config.model_copy(update={"telemetry": config.telemetry.model_copy(update=update)})


async def _demo(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        raise ConfigError("--speed", [f"{args.speed}: must be > 0"])
    args.stop = stop_on_signals()
    async with contextlib.AsyncExitStack() as stack:
        url = args.mqtt
        if url is None and not args.no_mqtt:
            broker = await stack.enter_async_context(EmbeddedBroker())
            url = broker.url
            print(f"icu-ws demo: telemetry on the embedded broker {url}; watch it with: "
                  f"icu-ws monitor --mqtt {url}", flush=True)
        users_file = args.event_log.parent / "demo-users.json"
        print(f"icu-ws demo: {ensure_demo_user(users_file)}; add your own: icu-ws user add "
              f"NAME --role nurse --users-file {users_file}", flush=True)
        print(f"icu-ws demo: event log {args.event_log}; read it with: icu-ws log --db "
              f"{args.event_log}", flush=True)
        config = with_broker(demo_config(args.channels, event_log=args.event_log,
                                         ui=UiConfig(users_file=users_file)),
                             None if args.no_mqtt else url,
                             outbox=args.event_log.with_name(args.event_log.stem + "-outbox.db"))
        return await _demo_with(config, args)


async def _demo_with(config: WorkstationConfig, args: argparse.Namespace) -> int:
    async with demo_workstation(config=config, speed=args.speed,
                                event_log=args.event_log) as (ws, racks):
        with contextlib.suppress(TimeoutError):  # let every module announce itself
            await asyncio.wait_for(args.stop.wait(), 1.5)
        if not args.idle and not args.stop.is_set():
            for problem in await start_demo_infusions(ws, user=DEMO_USER):
                print(f"icu-ws demo: {problem}", file=sys.stderr)
        return await _present(ws, args, simulator=demo_simulator(config, racks),
                              user=DEMO_USER)


def demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))


def _check_one(path: Path) -> str:
    try:
        with path.open("rb") as f:
            is_library = "care_areas" in tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        is_library = False  # the loaders below report it with the file's name
    if is_library:
        library = load_drug_library(path)
        drugs = sum(len(a.drugs) for a in library.care_areas)
        return f"drug library {library.label}: {len(library.care_areas)} care areas, " \
               f"{drugs} drug entries"
    config = load_config(path)
    t = config.telemetry
    if t.enabled and t.url is not None:  # the files it names must be readable now
        BrokerAccess.build(t.url, username=t.username, password_file=t.password_file,
                           ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file)
    library = load_drug_library(config.drug_library)
    try:
        library.care_area(config.care_area)
    except KeyError as exc:
        raise ConfigError(str(path), [f"care_area: {exc.args[0]}"]) from None
    users = UserStore(config.ui.users_file).users()  # a readable or broken file fails here
    return f"workstation {config.name}: {len(config.channels)} channels on " \
           f"{len(config.buses)} bus(es), care area {config.care_area}, {library.label}, " \
           f"{len(users)} user(s) in {config.ui.users_file}" + \
           ("" if users else " (add one: icu-ws user add NAME --role nurse)")


def check_config(args: argparse.Namespace) -> int:
    files = args.files or [EXAMPLE_CONFIG, DEFAULT_LIBRARY]
    failed = 0
    for path in files:
        try:
            print(f"ok: {path}: {_check_one(path)}")
        except InfusionError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
    return 1 if failed else 0
