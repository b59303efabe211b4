"""``ivr report``'s speech figures (issue 13): eight calls through the app, spoken and
keyed, with known outcomes at the main menu (a speech menu), and every figure of the
speech section checked in the JSON, the text, the CSV files and the console's report page,
on SQLite and on PostgreSQL. The records keep no words, and neither does the report."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Caller
from test_console import PASSWORD, log_in

from ivr import create_app
from ivr.cli import cli
from ivr.tuning.report import build

pytestmark = pytest.mark.both_backends

ZH, EN = "1", "2"  # the language menu's keys
#: a word no tree or prompt has: found in a report, it would mean words were kept
MARK = "ZXQ7788"
CLEAR = {ZH: f"我充值的钱还没到账，订单号{MARK}", EN: f"my top up has not arrived, order {MARK}"}
WEAK = {ZH: "我的钱没到账", EN: "my money hasn't arrived"}  # confirmed: top-up?
UNKNOWN = {ZH: "今天天气怎么样", EN: "what is the weather like"}

#: main's figures for the calls ``made`` makes (A to H)
MAIN = {"reached": 7,            # all but H
        "spoke": 6,              # A B C D E F
        "matched": 3,            # A B F
        "asked_to_confirm": 2,   # C D
        "confirmed": 1,          # C
        "declined": 1,           # D
        "reasked": 2,            # E F
        "keypad": 2,             # D (declined) E (no match twice)
        "routed": 4,             # A B C F
        "spoke_share": round(6 / 7, 4), "routed_share": round(4 / 6, 4),
        "targets": {"topup_status": 3, "agent_general": 1}}
#: the same as a row of the table: shares as percentages
ROW = ["main", "7", "6", "85.7 %", "3", "2", "1", "1", "2", "2", "4", "66.7 %"]


def call(client: Any, lang: str | None, *answers: str | tuple[str, str]) -> Caller:
    """A call in ``lang`` (None: hangs up at the language menu): each answer a key, or
    ("say", words); then it hangs up."""
    caller = Caller(client)
    caller.start()
    if lang is not None:
        caller.press(lang)
        assert caller.at == "main"
    for answer in answers:
        if isinstance(answer, tuple):
            caller.say(answer[1])
        else:
            caller.press(answer)
    caller.send("/voice/status", CallStatus="completed", CallDuration="40")
    return caller


@pytest.fixture(name="made")
def _made(settings: dict[str, Any], clock: Any) -> dict[str, Any]:
    app = create_app(settings)
    client = app.test_client()
    # A, B: a clear sentence: straight to the top-up status (through verification)
    assert call(client, EN, ("say", CLEAR[EN])).at == "identify"
    assert call(client, ZH, ("say", CLEAR[ZH])).at == "identify"
    # C: a weak match, confirmed with 1
    assert call(client, ZH, ("say", WEAK[ZH]), "1").at == "identify"
    # D: a weak match, declined with 2: the keypad menu, then 1 for payments
    assert call(client, EN, ("say", WEAK[EN]), "2", "1").at == "payments_menu"
    # E: no match twice: the keypad menu, then 0 for an agent
    assert call(client, EN, ("say", UNKNOWN[EN]), ("say", UNKNOWN[EN]), "0").queue == "general"
    # F: no match, then asked again: "an agent" in other words
    assert call(client, ZH, ("say", UNKNOWN[ZH]), ("say", "我要转人工")).queue == "general"
    # G: keys only, to the complaints menu; H: hangs up at the language menu
    assert call(client, ZH, "4").at == "complaints_menu"
    call(client, None)
    return {"db": settings["DATABASE"], "app": app}


def test_every_speech_figure_is_exact(made: dict[str, Any]) -> None:
    report = build(made["db"])
    assert report["calls"] == 8
    assert report["speech"] == {"main": MAIN}
    languages = {lang: split["speech"]["main"] for lang, split in report["languages"].items()}
    # English: A D E reached main and spoke, A was routed; Mandarin: B C F spoke, G keyed
    assert {k: languages["en-US"][k] for k in ("reached", "spoke", "routed", "keypad")} == \
        {"reached": 3, "spoke": 3, "routed": 1, "keypad": 2}
    assert languages["en-US"]["targets"] == {"topup_status": 1}
    assert {k: languages["zh-CN"][k] for k in ("reached", "spoke", "routed", "keypad")} == \
        {"reached": 4, "spoke": 3, "routed": 3, "keypad": 0}
    assert languages["zh-CN"]["targets"] == {"topup_status": 2, "agent_general": 1}
    (version,) = report["versions"].values()
    assert version["speech"] == {"main": MAIN}
    # a period without those calls has no speech menu reached
    assert build(made["db"], since=datetime(2030, 1, 1, tzinfo=UTC))["speech"] == {}


def _rows(text: str, title: str) -> list[list[str]]:
    """A text table's rows (headers left out), cut into cells at two spaces or more."""
    lines = text.split(title, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    return [re.split(r" {2,}", line.strip()) for line in lines]


def test_the_command_shows_them_as_text_json_and_csv(made: dict[str, Any], runner: CliRunner,
                                                     tmp_path: Path) -> None:
    db = made["db"]
    result = runner.invoke(cli, ["report", "--db", db, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["speech"] == {"main": MAIN}
    text = runner.invoke(cli, ["report", "--db", db], catch_exceptions=False).output
    assert _rows(text, "Speech menus") == [ROW]
    assert _rows(text, "Targets reached by speech") == [["main", "topup_status", "3"],
                                                        ["main", "agent_general", "1"]]
    # the language split: English beside Mandarin
    by_language = {r[0]: r[1:] for r in _rows(text, "By language") if r[0].startswith("main ")}
    assert by_language == {"main spoke": ["3 (100.0 %)", "3 (75.0 %)"],
                           "main routed by speech": ["1 (33.3 %)", "3 (100.0 %)"]}
    folder = tmp_path / "csv"
    assert runner.invoke(cli, ["report", "--db", db, "--csv", str(folder)]).exit_code == 0
    with (folder / "speech.csv").open(encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0][:3] == ["menu", "reached", "spoke"]
    assert rows[1:] == [ROW]
    with (folder / "speech_targets.csv").open(encoding="utf-8") as file:
        assert list(csv.reader(file))[1:] == [["main", "topup_status", "3"],
                                              ["main", "agent_general", "1"]]
    for output in (result.output, text, *(p.read_text("utf-8") for p in folder.iterdir())):
        assert MARK not in output and "天气" not in output and "weather" not in output


def test_the_console_report_page_shows_them(made: dict[str, Any]) -> None:
    app = made["app"]
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    client = app.test_client()
    assert log_in(client).status_code == 302
    page = client.get("/ops/report").data.decode()
    speech = page.split('<table id="report-speech">', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", speech)
    assert cells == ROW
    targets = page.split('<table id="report-speech_targets">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", targets) == [
        "main", "topup_status", "3", "main", "agent_general", "1"]
    assert MARK not in page
