"""``icu-ws log``, in-process: table, filters, CSV, and errors as one line with exit status 2."""

from __future__ import annotations

import argparse
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.events import Event, EventKind
from icu_ws import log as log_cli
from workstation.eventlog import CSV_COLUMNS, ENV_VAR, EventLog

NOW = datetime.now(UTC).replace(microsecond=0)
# (hours ago, kind, channel, user, message)
EVENTS = [
    (5.0, EventKind.SYSTEM, None, None, "supervisor started"),
    (4.0, EventKind.PROGRAM, "A", "nurse1", "start heparin 2 mL/h"),
    (3.0, EventKind.ALARM, "A", None, "Occlusion downstream"),
    (1.5, EventKind.ACK, "A", "nurse1", "alarm acknowledged"),
    (1.0, EventKind.OVERRIDE, "B", "dr_x", "soft limit overridden"),
    (0.5, EventKind.ALARM, "B", None, "Air in line"),
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "events.db"
    with EventLog(path) as log:
        for hours, kind, channel, user, message in EVENTS:
            log.record(Event(kind, message, channel, user, {"drug": "Heparin"}),
                       wall_time=NOW - timedelta(hours=hours))
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    log_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["log", *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def messages(out: str) -> list[str]:
    """The message column of a table (everything after the fourth column)."""
    return [re.split(r"\s{2,}", line, maxsplit=4)[4] for line in out.splitlines()[1:]]


def test_table(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, _ = cli(capsys, "--db", str(db))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "(local)", "KIND", "CHANNEL", "USER", "MESSAGE"]
    assert messages(out) == [e[4] for e in EVENTS]  # oldest first
    local = (NOW - timedelta(hours=4)).astimezone().replace(tzinfo=None)
    assert lines[2].split()[:4] == [local.isoformat(timespec="seconds"), "program", "A", "nurse1"]
    assert lines[1].split()[:4] == [
        (NOW - timedelta(hours=5)).astimezone().replace(tzinfo=None).isoformat(), "system",
        "-", "-"]


def test_filters(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    base = ("--db", str(db))
    assert messages(cli(capsys, *base, "--channel", "A")[1]) == [e[4] for e in EVENTS[1:4]]
    alarms = cli(capsys, *base, "--kind", "alarm", "--kind", "ack")[1]
    assert messages(alarms) == [e[4] for e in EVENTS[2:4]] + ["Air in line"]
    assert messages(cli(capsys, *base, "--grep", "OCCLUSION")[1]) == ["Occlusion downstream"]
    assert messages(cli(capsys, *base, "--since", "2h")[1]) == [e[4] for e in EVENTS[3:]]
    assert messages(cli(capsys, *base, "--until", "2h")[1]) == [e[4] for e in EVENTS[:3]]
    since = (NOW - timedelta(hours=4, minutes=1)).isoformat()
    until = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = cli(capsys, *base, "--since", since, "--until", until)[1]
    assert messages(window) == [e[4] for e in EVENTS[1:4]]
    assert cli(capsys, *base, "--grep", "nothing like this") == (0, "", "no events match\n")


def test_limit_keeps_most_recent(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, err = cli(capsys, "--db", str(db), "--limit", "2")
    assert code == 0 and messages(out) == ["soft limit overridden", "Air in line"]
    assert "--limit 0" in err
    _, out, _ = cli(capsys, "--db", str(db), "--limit", "2", "--newest-first")
    assert messages(out) == ["Air in line", "soft limit overridden"]
    _, out, err = cli(capsys, "--db", str(db), "--limit", "0", "--newest-first")
    assert messages(out) == [e[4] for e in reversed(EVENTS)] and err == ""


def test_csv_file(capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    code, out, err = cli(capsys, "--db", str(db), "--csv", str(target), "--kind", "alarm")
    assert code == 0 and out == "" and "wrote 2 events" in err
    with target.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["message"] for r in rows] == ["Occlusion downstream", "Air in line"]
    assert rows[0]["kind"] == "alarm" and rows[0]["channel"] == "A"
    assert datetime.fromisoformat(rows[0]["wall_time"]) == NOW - timedelta(hours=3)


def test_csv_stdout_exports_all_by_default(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, _ = cli(capsys, "--db", str(db), "--csv", "-")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(EVENTS) + 1


def test_bad_since_exit_2(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, err = cli(capsys, "--db", str(db), "--since", "yesterday-ish")
    assert code == 2 and out == ""
    assert "--since 'yesterday-ish'" in err and "ISO-8601" in err
    code, _, err = cli(capsys, "--db", str(db), "--since", "1h", "--until", "2h")
    assert code == 2 and "not before" in err
    code, _, err = cli(capsys, "--db", str(db), "--limit", "-1")
    assert code == 2 and "--limit" in err


def test_missing_db_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "events.db"
    code, out, err = cli(capsys, "--db", str(missing))
    assert code == 2 and out == ""
    assert str(missing) in err and err.count("\n") == 1
    assert not missing.parent.exists()  # a reader creates nothing


def test_not_a_database_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_text("hello\n" * 200)
    code, _, err = cli(capsys, "--db", str(path))
    assert code == 2 and str(path) in err


def test_unwritable_csv_exit_2(capsys: pytest.CaptureFixture[str], db: Path,
                               tmp_path: Path) -> None:
    code, _, err = cli(capsys, "--db", str(db), "--csv", str(tmp_path / "no" / "x.csv"))
    assert code == 2 and "--csv" in err


def test_db_from_environment_then_default(capsys: pytest.CaptureFixture[str], db: Path,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv(ENV_VAR, str(db))
    code, out, _ = cli(capsys)
    assert code == 0 and len(messages(out)) == len(EVENTS)
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys)
    assert code == 2 and str(Path("var") / "events.db") in err
    (tmp_path / "var").mkdir()
    db.rename(tmp_path / "var" / "events.db")
    assert cli(capsys)[0] == 0


def test_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli(capsys, "--kind", "alrm")
    assert info.value.code == 2


def test_main_runs_the_subcommand(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    assert log_cli.main(["--db", str(db), "--kind", "override"]) == 0
    assert messages(capsys.readouterr().out) == ["soft limit overridden"]


def test_parse_when() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert log_cli.parse_when("30m", "--since", now) == now - timedelta(minutes=30)
    assert log_cli.parse_when("2h", "--since", now) == now - timedelta(hours=2)
    assert log_cli.parse_when(" 1D ", "--since", now) == now - timedelta(days=1)
    assert log_cli.parse_when("90s", "--since", now) == now - timedelta(seconds=90)
    assert log_cli.parse_when("1.5h", "--since", now) == now - timedelta(minutes=90)
    iso = log_cli.parse_when("2024-05-01T08:00:00Z", "--since")
    assert iso == datetime(2024, 5, 1, 8, tzinfo=UTC)
    naive = log_cli.parse_when("2024-05-01T08:00", "--until")
    assert naive == datetime(2024, 5, 1, 8).astimezone()  # local time
    with pytest.raises(log_cli.UsageError, match="--until '5 parsecs'"):
        log_cli.parse_when("5 parsecs", "--until")


def test_alarm_rows_show_their_priority(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with EventLog(path) as log:
        log.record(Event(EventKind.ALARM, "A/OCCLUSION: Occlusion raised", "A", None,
                         {"priority": "HIGH", "change": "raised"}))
    code, out, _ = cli(capsys, "--db", str(path))
    assert code == 0 and "alarm HIGH" in out.splitlines()[1]


def test_without_db_the_demos_log_is_found(capsys: pytest.CaptureFixture[str], db: Path,
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys)
    assert code == 2 and "demo-events.db" in err  # says where the demo writes
    (tmp_path / "var").mkdir()
    db.rename(tmp_path / "var" / "demo-events.db")
    code, out, err = cli(capsys)
    assert code == 0 and "demo" in err and len(messages(out)) == len(EVENTS)


def test_csv_into_a_closed_pipe_ends_without_a_traceback(tmp_path: Path) -> None:
    """``icu-ws log --csv - | head``: head leaves after a few lines."""
    import subprocess
    import sys

    from workstation.config import REPO_ROOT

    path = tmp_path / "events.db"
    with EventLog(path) as log:
        for i in range(300):  # 300 kB: more than a pipe holds
            log.record(Event(EventKind.USER, f"event {i} " + "x" * 1000, "A", "rn-test"))
    proc = subprocess.Popen([sys.executable, "-m", "icu_ws.cli", "log", "--db", str(path),
                             "--csv", "-"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"id,")
    proc.stdout.close()  # as head does once it has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_user_filter_shows_one_users_actions(capsys: pytest.CaptureFixture[str],
                                             db: Path) -> None:
    code, out, _ = cli(capsys, "--db", str(db), "--user", "nurse1")
    assert code == 0
    assert messages(out) == ["start heparin 2 mL/h", "alarm acknowledged"]
    code, out, _ = cli(capsys, "--db", str(db), "--user", "nurse1", "--limit", "1")
    assert messages(out) == ["alarm acknowledged"]
