"""``icu-ws user add|list|remove``: the workstation's named users (PINs stored hashed)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from dbc.errors import ConfigError
from workstation.config import load_config
from workstation.users import Role, UserError, UserStore, check_name, check_pin

HELP = "add, list or remove the users who unlock the workstation (PINs stored hashed)"
EPILOG = """\
The users file is --users-file, else the [ui] users_file of --config
(default configs/workstation.toml: var/users.json). The demo keeps its own: var/demo-users.json.
Roles: nurse, pharmacist, biomed. A PIN is 4-12 digits, asked twice (or the first line of
--pin-file); only its argon2 hash is stored, in a file readable by you alone (0600).

examples:
  icu-ws user add rn-jones --role nurse
  icu-ws user add demo-pharm --role pharmacist --users-file var/demo-users.json
  icu-ws user list
  icu-ws user remove rn-jones
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("user", help=HELP, description=HELP + ".", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    where = argparse.ArgumentParser(add_help=False)  # after the action, as people type it
    where.add_argument("--config", type=Path, default=Path("configs/workstation.toml"),
                       help="workstation config whose [ui] users_file to use (default: "
                            "configs/workstation.toml in the working directory)")
    where.add_argument("--users-file", type=Path, default=None, metavar="FILE",
                       help="the users file itself (overrides --config)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("add", help="add a user; asks for the PIN twice", parents=[where])
    a.add_argument("name", help="user name, e.g. rn-jones (lower case)")
    a.add_argument("--role", required=True, choices=[r.value for r in Role])
    a.add_argument("--pin-file", type=Path, default=None, metavar="FILE",
                   help="read the PIN from the first line of FILE instead of asking")
    actions.add_parser("list", help="list users and roles (never PINs)", parents=[where])
    r = actions.add_parser("remove", help="remove a user", parents=[where])
    r.add_argument("name")
    p.set_defaults(handler=run)


def users_path(args: argparse.Namespace) -> Path:
    if args.users_file is not None:
        return Path(args.users_file)
    return load_config(args.config).ui.users_file


def _read_pin(args: argparse.Namespace) -> str:
    if args.pin_file is not None:
        try:
            lines = Path(args.pin_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UserError(f"--pin-file {args.pin_file}: cannot read: "
                            f"{exc.strerror or exc}") from None
        return check_pin(lines[0].strip() if lines else "")
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask the PIN on: give --pin-file FILE")
    pin = check_pin(getpass.getpass(f"PIN for {args.name} (4-12 digits): "))
    if getpass.getpass("The same PIN again: ") != pin:
        raise UserError("the two PINs differ: nothing changed; try again")
    return pin


def run(args: argparse.Namespace) -> int:
    try:
        store = UserStore(users_path(args))
        if args.action == "add":
            check_name(args.name)  # before asking for a PIN
            pin = _read_pin(args)
            user = store.add(args.name, Role(args.role), pin)
            print(f"added {user.name} ({user.role.value}) to {store.path}")
        elif args.action == "remove":
            user = store.remove(args.name)
            print(f"removed {user.name} ({user.role.value}) from {store.path}")
        else:
            users = store.users()
            if not users:
                print(f"no users in {store.path}; add one: icu-ws user add NAME --role nurse",
                      file=sys.stderr)
            for u in users:
                print(f"{u.name:<24} {u.role.value:<11} added {u.added or '-'}")
    except (UserError, ConfigError) as exc:
        print(f"icu-ws user: {exc}", file=sys.stderr)
        return 2
    return 0
