"""``ivr report``: calls with known choices, made through the app (signed webhooks, the
status callback, the Enqueue action) and through the simulator, and the report's numbers
checked exactly against them. The tests of the app's records run on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import Caller

from ivr import create_app
from ivr.cli import cli
from ivr.menu.loader import DEFAULT_MENU
from ivr.menu.version import takes_b
from ivr.records.database import open_database
from ivr.records.store import Store
from ivr.tuning.report import build

pytestmark = pytest.mark.both_backends

DEMO_PHONE = "+8613800138000"  # account 10000001's registered number


class Call:
    """A ``Caller`` whose clock moves ``gap_s`` before each key, and who hangs up."""

    def __init__(self, client: Any, clock: Any, from_number: str = "+8613700000000",
                 gap_s: int = 10) -> None:
        self.call, self.clock, self.gap_s = Caller(client, from_number), clock, gap_s
        self.call.start()

    def keys(self, *answers: str) -> Call:
        for answer in answers:
            self.clock.tick(self.gap_s)
            self.call.press(answer)
        return self

    def enqueue_action(self, result: str) -> Call:
        enqueue = self.call.root.find("Enqueue")
        assert enqueue is not None, "the call is not queued"
        self.clock.tick(self.gap_s)
        self.call.post(enqueue.get("action"), QueueResult=result, QueueTime="30")
        return self

    def hold_key_1(self) -> Call:
        """Press 1 while holding: the wait document's Gather, then the Enqueue action."""
        enqueue = self.call.root.find("Enqueue")
        assert enqueue is not None
        self.call.post(enqueue.get("waitUrl"), QueuePosition="3", QueueTime="40")
        self.call.post(self.call.action, Digits="1")
        self.call.root = enqueue_root(enqueue)
        return self.enqueue_action("leave")

    def hang_up(self, status: str = "completed") -> None:
        self.clock.tick(self.gap_s)
        self.call.send("/voice/status", CallStatus=status, CallDuration="60")


def enqueue_root(enqueue: Any) -> Any:
    import xml.etree.ElementTree as ET

    root = ET.Element("Response")
    root.append(enqueue)
    return root


def six_calls(client: Any, clock: Any) -> None:
    """Calls A to F, with known choices (``made`` adds G to I)."""
    # A: verified by caller ID, hears the top-up status and hangs up: contained
    Call(client, clock, DEMO_PHONE).keys("2", "1", "1", "1", "246810").hang_up()
    # B: * and a time-out at main, into payments, 9 back, 7 invalid, 4, hangs up there
    Call(client, clock).keys("2", "*", "", "1", "9", "7", "4").hang_up()
    # C: 0 for an agent, answered
    Call(client, clock).keys("2", "0").enqueue_action("bridged").hang_up()
    # D: 0 for an agent, presses 1 while holding: a callback
    Call(client, clock).keys("2", "0").hold_key_1().hang_up()
    # E: 0 for an agent, hangs up waiting
    Call(client, clock).keys("2", "0").enqueue_action("hangup").hang_up()
    # F: a time-out and two wrong keys: the fallback into general, then hangs up waiting
    Call(client, clock).keys("2", "", "7", "8").enqueue_action("hangup").hang_up()


@pytest.fixture(name="made")
def _made(settings: dict[str, Any], clock: Any) -> dict[str, Any]:
    """Nine calls through the app with known choices; the database they are in."""
    app = create_app({**settings, "LOCKOUT_FAILURES": 2})
    client = app.test_client()
    six_calls(client, clock)
    # G: a wrong PIN, then the right one; 0 for an agent at the top-up status, hangs up
    # at the prepare node
    Call(client, clock).keys("2", "1", "1", "10000001#", "111111", "10000001#", "246810",
                             "0").hang_up()
    # H: two wrong PINs lock account 10000003: to account-security, which answers
    Call(client, clock).keys("2", "1", "1", "10000003#", "000000", "10000003#",
                             "000001").enqueue_action("bridged").hang_up()
    # I: hangs up at the language menu, in Mandarin by default
    Call(client, clock).hang_up()
    return {"db": settings["DATABASE"], "app": app}


def test_node_counts_are_exact(made: dict[str, Any]) -> None:
    report = build(made["db"])
    assert report["calls"] == 9
    nodes = report["nodes"]
    language = nodes["language"]
    assert (language["entered"], language["options"], language["hangups"]) == (9, {"2": 8}, 1)
    main = nodes["main"]
    # B entered main twice (once back from payments_menu)
    assert (main["entered"], main["calls"]) == (9, 8)
    assert main["options"] == {"0": 3, "1": 4, "4": 1}  # A G H to payments, C D E agents
    assert (main["invalid"], main["no_input"], main["repeat"], main["back"]) == (3, 2, 1, 0)
    assert main["shares"] == {"0": 0.375, "1": 0.5, "4": 0.125}
    payments = nodes["payments_menu"]
    assert (payments["entered"], payments["options"], payments["back"]) == (4, {"1": 3}, 1)
    assert nodes["complaints_menu"]["hangups"] == 1
    assert nodes["topup_status"]["hangups"] == 1
    assert nodes["topup_prepare"]["hangups"] == 1
    assert sum(n["hangups"] for n in nodes.values()) == 4  # A, B, G and I
    # each key came 10 s after the last: a node answered at once is left after 10 s
    assert nodes["language"]["median_s"] == 10.0
    assert nodes["payments_menu"]["median_s"] == 10.0
    # A: caller ID and PIN (20 s); G and H: account, PIN, account, PIN (40 s each)
    assert nodes["identify"]["median_s"] == 40.0


def test_queues_containment_and_verification_are_exact(made: dict[str, Any]) -> None:
    report = build(made["db"])
    general = report["queues"]["general"]
    assert general["calls"] == 4  # C, D, E, F
    outcomes = {k: n for k, n in general["outcomes"].items() if n}
    assert outcomes == {"answered": 1, "callback": 1, "hung_up_waiting": 2}
    assert general["abandonment"] == 0.5
    # C, D, E: two keys 10 s apart after the start; F: four
    assert general["time_to_queue_s"] == {"p50": 20.0, "p90": 40.0}
    assert general["predicted"]["calls"] == 4 and general["predicted"]["p_abandon"] is not None
    security = report["queues"]["account-security"]
    assert security["calls"] == 1 and security["outcomes"]["answered"] == 1
    assert report["containment"] == {"calls": 1, "rate": round(1 / 9, 4)}
    verification = report["verification"]
    assert {k: verification[k] for k in ("attempted", "verified", "failed", "locked")} == \
        {"attempted": 3, "verified": 2, "failed": 0, "locked": 1}
    assert verification["wrong"] == 2  # G's wrong PIN and H's first one
    misroutes = report["misroutes"]
    assert misroutes["fallback"] == {"calls": 1, "queues": {"general": 1}}
    assert misroutes["back"] == {"calls": 1, "nodes": {"payments_menu": 1}}
    paths = [p for p in report["paths"] if p["queue"] == "general"]
    assert paths[0] == {"queue": "general", "calls": 4,
                        "path": ["welcome", "language", "main", "agent_general"]}


def test_languages_and_the_period(made: dict[str, Any], clock: Any) -> None:
    report = build(made["db"])
    assert set(report["languages"]) == {"en-US", "zh-CN"}
    assert report["languages"]["zh-CN"]["calls"] == 1
    assert report["languages"]["en-US"]["calls"] == 8
    assert report["languages"]["en-US"]["containment"]["calls"] == 1
    started = sorted(c["started_at"] for c in _calls(made["db"]))
    middle = datetime.fromisoformat(started[4])
    assert build(made["db"], since=middle)["calls"] == 5
    assert build(made["db"], until=middle)["calls"] == 4
    empty = build(made["db"], since=datetime(2030, 1, 1, tzinfo=UTC))
    assert empty["calls"] == 0 and empty["containment"] == {"calls": 0, "rate": 0.0}
    assert empty["nodes"] == {} and empty["queues"] == {} and empty["paths"] == []


def _calls(location: str) -> list[dict[str, Any]]:
    db = open_database(location, read_only=True)
    try:
        return [dict(r) for r in db.read_all("SELECT * FROM calls")]
    finally:
        db.close()


# -- the version split ---------------------------------------------------------------------

def test_each_call_lands_in_the_version_its_callsid_chose(settings: dict[str, Any], clock: Any,
                                                           tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_MENU.read_text("utf-8"))
    raw["nodes"]["main"]["options"]["4"]["label"] = "complaints and praise"
    tree_b = tmp_path / "tree_b.yaml"
    tree_b.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    app = create_app({**settings, "MENU_B": str(tree_b), "MENU_B_SHARE": 0.5})
    hotline = app.extensions["ivr"]
    client = app.test_client()
    sids = [f"CA{i:032d}" for i in range(900, 916)]
    for sid in sids:
        call = Call.__new__(Call)
        call.call, call.clock, call.gap_s = Caller(client), clock, 10
        call.call.sid = sid
        call.call.start()
        call.keys("2", "4").hang_up()
    report = build(settings["DATABASE"])
    versions = report["versions"]
    on_b = sum(takes_b(sid, 0.5) for sid in sids)
    assert 0 < on_b < len(sids)
    assert set(versions) == {hotline.tree.version, hotline.tree_b.version}
    assert versions[hotline.tree_b.version]["calls"] == on_b
    assert versions[hotline.tree_b.version]["menu_file"] == "tree_b.yaml"
    assert versions[hotline.tree.version]["calls"] == len(sids) - on_b
    assert sum(v["calls"] for v in versions.values()) == report["calls"] == len(sids)
    for version, split in versions.items():
        assert split["nodes"]["main"]["options"] == {"4": split["calls"]}
        assert split["nodes"]["complaints_menu"]["hangups"] == split["calls"]
        assert build(settings["DATABASE"], version=version)["calls"] == split["calls"]
    assert build(settings["DATABASE"], version="tree_b.yaml")["calls"] == on_b


# -- through the simulator -----------------------------------------------------------------

def test_simulated_calls_are_reported(runner: CliRunner, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_PIN_HASH_N", "16")
    db = tmp_path / "sim.db"
    # three callers (one number calling again would be offered its last need)
    presses = [("en-US", "1 1 10000001# 246810 0 1 20261120 200#"),  # to payments
               ("en-US", "1 1 10000001# 246810 h"),  # hears the top-up status, hangs up
               ("zh-CN", "4 h")]  # hangs up at the complaints menu
    for n, (lang, keys) in enumerate(presses):
        result = runner.invoke(cli, ["call", "--db", str(db), "--lang", lang, "--press", keys,
                                     "--from", f"+861370000000{n}", "--at",
                                     "2026-11-25T09:30"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    report = build(db)
    assert report["calls"] == 3
    assert report["nodes"]["main"]["options"] == {"1": 2, "4": 1}
    assert report["nodes"]["complaints_menu"]["hangups"] == 1
    assert report["containment"]["calls"] == 1
    assert report["verification"]["verified"] == 2
    assert report["queues"]["payments"]["calls"] == 1
    assert report["languages"]["zh-CN"]["calls"] == 1
    assert report["languages"]["en-US"]["calls"] == 2
    assert report["paths"][0]["path"][-1] == "payments_queue"


# -- the command -----------------------------------------------------------------------------

def test_the_command_prints_json_csv_and_html(made: dict[str, Any], runner: CliRunner,
                                              tmp_path: Path) -> None:
    db = made["db"]
    result = runner.invoke(cli, ["report", "--db", db, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(json.dumps(build(db)))
    text = runner.invoke(cli, ["report", "--db", db], catch_exceptions=False)
    assert text.exit_code == 0
    assert text.output.startswith("9 calls from ")
    for heading in ("Per node", "Per queue", "Top paths", "By tree version", "By language"):
        assert heading in text.output
    folder = tmp_path / "csv"
    result = runner.invoke(cli, ["report", "--db", db, "--csv", str(folder)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in folder.iterdir()}
    assert {"nodes.csv", "queues.csv", "paths.csv", "versions.csv", "languages.csv"} <= names
    nodes = (folder / "nodes.csv").read_text("utf-8").splitlines()
    assert nodes[0].startswith("node,entered,calls,options")
    assert any(line.startswith("main,9,8,") for line in nodes)
    page = tmp_path / "report.html"
    result = runner.invoke(cli, ["report", "--db", db, "--html", str(page)])
    assert result.exit_code == 0, result.output
    body = page.read_text("utf-8")
    assert body.startswith("<!DOCTYPE html>") and "<style>" in body
    assert '<table id="report-nodes">' in body and "<h2>The tree</h2>" in body
    # offline: nothing linked or loaded; the tree's zoom is one inline script
    assert "<link" not in body and "<script src" not in body and 'src="http' not in body
    assert body.count("<script") == (1 if "<svg" in body.split("The tree")[-1] else 0)
    assert "<svg" in body or "the tree could not be drawn" in body  # dot may be missing


def test_no_calls_in_the_period_is_said_and_zero(made: dict[str, Any],
                                                 runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["report", "--db", made["db"], "--since", "2030-01-01"])
    assert result.exit_code == 0
    assert result.output.startswith("No calls in the period")
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    result = runner.invoke(cli, ["report", "--db", str(fresh), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["calls"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "yesterday"], "'yesterday' is not a time"),
    (["--since", "2026-11-26", "--until", "2026-11-25T10:00"], "is not after"),
    (["--json", "--html", "x.html"], "give one of --json, --csv and --html"),
    (["--html", "report.txt"], "the name must end in .html or .htm"),
    (["--csv", "no/such/folder"], "does not exist"),
])
def test_bad_arguments_are_one_clear_line(made: dict[str, Any], runner: CliRunner,
                                          args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["report", "--db", made["db"], *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_file_that_is_not_an_ivr_database(runner: CliRunner, tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    result = runner.invoke(cli, ["report", "--db", str(other)])
    assert result.exit_code == 2  # refused as --db, before anything is opened
    assert f"{other} is not an ivr database (it has tables t but not calls)" in result.output
    text = tmp_path / "notes.db"
    text.write_text("hello")
    result = runner.invoke(cli, ["report", "--db", str(text)])
    assert result.exit_code == 2 and "is not a SQLite database" in result.output


def test_a_queue_that_refuses_the_caller(settings: dict[str, Any], clock: Any) -> None:
    """Refused by a full fraud queue, the caller waits on: general takes them, answered."""
    app = create_app(settings)
    call = Call(app.test_client(), clock).keys("2", "3", "*")  # fraud, skipping verification
    assert call.call.queue == "fraud"
    call.enqueue_action("queue-full")
    call.keys("3")  # neither a callback nor the best times: an agent, from general
    assert call.call.queue == "general"
    call.enqueue_action("bridged").hang_up()
    report = build(settings["DATABASE"])
    fraud, general = report["queues"]["fraud"], report["queues"]["general"]
    assert (fraud["calls"], fraud["outcomes"]["refused"]) == (1, 1)
    assert (general["calls"], general["outcomes"]["answered"]) == (1, 1)
    assert sum(fraud["outcomes"].values()) == sum(general["outcomes"].values()) == 1
    assert report["verification"]["skipped"] == 1 and report["verification"]["attempted"] == 0
    assert report["containment"]["calls"] == 0


def test_the_command_reads_the_period_in_the_centres_time(made: dict[str, Any],
                                                          runner: CliRunner) -> None:
    def calls(*args: str) -> int:
        result = runner.invoke(cli, ["report", "--db", made["db"], "--json", *args],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return int(json.loads(result.output)["calls"])

    # the calls were made from 09:30 on 25 November in Shanghai (01:30 UTC)
    assert calls("--since", "2026-11-25", "--until", "2026-11-25") == 9  # that whole day
    assert calls("--until", "2026-11-24") == 0
    assert calls("--since", "2026-11-25T09:30") == 9
    assert calls("--since", "2026-11-25T09:30:01+08:00") < 9
    assert calls("--version", "wallet.yaml") == 9
    unknown = runner.invoke(cli, ["report", "--db", made["db"], "--version", "0000000000"])
    assert unknown.exit_code == 2
    assert "unknown tree version '0000000000': the calls recorded ran on " in unknown.output
    assert "(wallet.yaml)" in unknown.output


def test_calls_recorded_by_an_earlier_release_are_said_to_be_so(made: dict[str, Any],
                                                                runner: CliRunner,
                                                                tmp_path: Path,
                                                                backend: str) -> None:
    """A database from before steps kept their choices: the report counts its calls and
    says why its node figures are empty; ``ivr tune`` says it cannot learn from it."""
    import shutil
    import sqlite3

    if backend != "sqlite":
        pytest.skip("earlier releases kept their records in SQLite files only")

    made["app"].extensions["ivr"].store.close()
    old = tmp_path / "old.db"
    shutil.copy(made["db"], old)
    with sqlite3.connect(old) as db:
        for table, column in (("calls", "menu_version"), ("calls", "menu_file"),
                              ("call_events", "choice"), ("call_events", "walked"),
                              ("call_events", "fell_back")):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    report = build(old)
    assert (report["calls"], report["unrecorded"]) == (9, 9)
    assert all(not n["options"] for n in report["nodes"].values())
    assert build(made["db"])["unrecorded"] == 0
    text = runner.invoke(cli, ["report", "--db", str(old)])
    assert text.exit_code == 0
    assert "Of these, 9 calls were recorded by an earlier release" in text.output
    tune = runner.invoke(cli, ["tune", "--db", str(old), "--calls", "10"])
    assert tune.exit_code == 1
    assert "recorded by an earlier release of ivr" in tune.output
    Store(old).close()  # the app adds the columns: the old rows still have no steps
    assert build(old)["unrecorded"] == 9
