"""The caller's verdict after an agent (issue 26, part 3): whole calls through signed
webhooks, from the queue through an agent's ``<Dial><Queue>`` and the bridge to the
survey, and what ``ivr report`` makes of it. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import Caller

from ivr import create_app
from ivr.cli import cli
from ivr.flow import survey
from ivr.tuning import report_render
from ivr.tuning.report import build

pytestmark = pytest.mark.both_backends

AGENT_PHONE = "+8613900000001"
EN = {"question": "Please rate the agent who helped you today.",
      "invalid": "Sorry, please press a key from 1 to 5.",
      "comment": "Thank you. To tell us more, leave a short message",
      "comment_only": "Before you go, to tell us how this call went",
      "thanks": "Thank you for your feedback. Goodbye.",
      "goodbye": "Thank you for calling. Goodbye."}


@pytest.fixture(name="agent")
def _agent(app: Any) -> Any:
    app.extensions["ivr"].users.add("wang", "a long password", "agent", datetime.now(UTC),
                                    queues=("general",), phone=AGENT_PHONE)


class Bridged(Caller):
    """A caller who chose a language and an agent, was taken by agent wang (``/agent/voice``,
    its ``<Dial><Queue url>`` played to them) and talked: ``bridge`` ends the talk as Twilio
    does, with the Enqueue action's ``QueueResult=bridged``."""

    def queue_for_agent(self, lang_key: str = "2") -> Bridged:
        self.start()
        self.keys(lang_key, "0")
        assert self.queue == "general"
        self.enqueue = self.root.find("Enqueue")
        agent = Caller(self.client, AGENT_PHONE)
        dial = agent.post("/agent/voice").find("Dial")
        assert dial is not None
        self.post(dial.find("Queue").get("url"), QueueSid="QU1", QueueTime="40",
                  DequeingCallSid=agent.sid)
        return self

    def bridge(self, **params: str) -> ET.Element:
        return self.post(self.enqueue.get("action"), QueueResult="bridged", QueueTime="40",
                         **params)

    def hang_up(self) -> None:
        self.send("/voice/status", CallStatus="completed", CallDuration="300")

    def says(self) -> list[str]:
        assert self.root is not None
        return [s.text or "" for s in self.root.iter("Say")]


def bridged(client: Any, lang_key: str = "2") -> Bridged:
    return Bridged(client).queue_for_agent(lang_key)


def row(app: Any, sid: str) -> dict[str, Any]:
    found = app.extensions["ivr"].store.read_one(
        "SELECT csat_asked_at, csat_score, csat_comment_url, csat_comment_s FROM calls "
        "WHERE call_sid=?", (sid,))
    return dict(found)


def test_a_bridged_call_ends_with_the_survey_and_its_4_is_counted(
        app: Any, client: Any, agent: Any, runner: CliRunner, tmp_path: Any) -> None:
    call = bridged(client)
    root = call.bridge()
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert urlsplit(gather.get("action")).path == "/voice/step/(survey)"
    assert call.says() == [EN["question"] + " If you were very satisfied, press 5; satisfied, "
                           "4; neither satisfied nor dissatisfied, 3; dissatisfied, 2; very "
                           "dissatisfied, 1."]
    assert row(app, call.sid)["csat_asked_at"] and row(app, call.sid)["csat_score"] is None

    root = call.press("4")
    record = root.find("Record")
    assert record is not None and urlsplit(record.get("action")).path == "/voice/step/(comment)"
    assert record.get("maxLength") == "60" and record.get("finishOnKey") == "#"
    assert call.says()[0].startswith(EN["comment"])
    root = call.record(9)
    assert call.says() == [EN["thanks"]] and root.find("Hangup") is not None
    call.hang_up()
    kept = row(app, call.sid)
    assert (kept["csat_score"], kept["csat_comment_url"], kept["csat_comment_s"]) == (
        4, "https://api.twilio.com/rec/RE1", 9)

    result = runner.invoke(cli, ["report", "--db", app.config["DATABASE"], "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)["csat"]
    one = {"bridged": 1, "asked": 1, "answered": 1, "answered_share": 1.0, "mean": 4.0,
           "scores": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}, "comments": 1}
    assert {k: found[k] for k in one} == one
    version = app.extensions["ivr"].tree.version
    assert found["queues"] == {"general": one} and found["agents"] == {"wang": one}
    assert found["languages"] == {"en-US": one} and found["versions"] == {version: one}
    # the survey is outside the tree: no node of the report counts it
    assert not any(node.startswith("(") for node in json.loads(result.output)["nodes"])
    text = runner.invoke(cli, ["report", "--db", app.config["DATABASE"]]).output
    assert "Callers' verdict after an agent" in text
    folder = tmp_path / "csv"
    folder.mkdir()
    assert runner.invoke(cli, ["report", "--db", app.config["DATABASE"], "--csv",
                               str(folder)]).exit_code == 0
    rows = (folder / "csat.csv").read_text("utf-8").splitlines()
    assert rows[0] == "by,name,bridged,asked,answered,answered %,mean,1,2,3,4,5,comments"
    assert "agent,wang,1,1,1,100.0 %,4,0,0,0,1,0,1" in rows


def test_a_mandarin_caller_is_asked_in_mandarin(app: Any, client: Any, agent: Any) -> None:
    call = bridged(client, lang_key="1")
    call.bridge()
    assert call.says()[0].startswith("请您对刚才为您服务的客服代表进行评价")
    call.press("5")
    assert call.says()[0].startswith("谢谢您的评价")
    call.post(call.action)  # no recording: the Record falls through to its Redirect
    assert call.says() == ["感谢您的反馈，再见。"] and call.root.find("Hangup") is not None
    assert row(app, call.sid)["csat_score"] == 5
    assert row(app, call.sid)["csat_comment_url"] is None


def test_a_wrong_key_is_asked_again_once_then_thanks_and_goodbye(
        app: Any, client: Any, agent: Any) -> None:
    call = bridged(client)
    call.bridge()
    call.press("7")
    assert call.says() == [EN["invalid"], call.says()[1]]
    assert call.says()[1].startswith(EN["question"]) and call.at == "(survey)"
    root = call.press("")  # silence the second time
    assert call.says() == [EN["goodbye"]] and root.find("Hangup") is not None
    call.hang_up()
    assert row(app, call.sid)["csat_score"] is None
    found = build(app.config["DATABASE"])["csat"]
    assert (found["bridged"], found["asked"], found["answered"], found["answered_share"],
            found["mean"]) == (1, 1, 0, 0.0, None)


def test_a_replayed_answer_counts_once(app: Any, client: Any, agent: Any) -> None:
    call = bridged(client)
    call.bridge()
    question = call.action
    call.press("4")
    # Twilio, or someone who captured it, sends the same request again, then another key
    again = call.post(question, Digits="4")
    assert again.find("Record") is not None  # where the call is: the comment's invitation
    call.post(question, Digits="1")
    assert row(app, call.sid)["csat_score"] == 4
    # and the Enqueue action replayed neither asks again nor forgets the answer
    call.bridge()
    assert row(app, call.sid)["csat_score"] == 4
    found = build(app.config["DATABASE"])["csat"]
    assert (found["asked"], found["answered"], found["scores"]["4"], found["scores"]["1"]) == \
        (1, 1, 1, 0)


def test_twenty_answers_at_once_count_one(app: Any, client: Any, agent: Any) -> None:
    """20 keys at once on the question (one CallSid and turn, 20 threads as 20 workers
    would take them): one step runs, one score is kept, and it is one of those sent."""
    from concurrent.futures import ThreadPoolExecutor

    call = bridged(client)
    call.bridge()
    question = call.action

    def press(n: int) -> int:
        other = Caller(app.test_client())
        other.sid = call.sid
        return other.send(question, Digits=str(1 + n % 5)).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(press, range(20))) == {200}
    assert row(app, call.sid)["csat_score"] in (1, 2, 3, 4, 5)
    events = app.extensions["ivr"].store.events(call.sid)
    assert [e["node"] for e in events].count("(survey)") == 1
    found = build(app.config["DATABASE"])["csat"]
    assert (found["answered"], sum(found["scores"].values())) == (1, 1)


def test_a_caller_who_hangs_up_is_counted_as_not_answering(
        app: Any, client: Any, agent: Any) -> None:
    gone = bridged(client)  # hung up on the agent: the action comes with the call over
    root = gone.bridge(CallStatus="completed")
    assert root.find("Hangup") is not None and root.find("Gather") is None
    silent = bridged(client)  # heard the question, hung up
    silent.bridge()
    silent.hang_up()
    assert silent.post(silent.action, Digits="5").find("Hangup") is not None  # too late
    assert row(app, gone.sid)["csat_asked_at"] is None
    assert row(app, silent.sid)["csat_score"] is None
    found = build(app.config["DATABASE"])
    assert (found["csat"]["bridged"], found["csat"]["asked"], found["csat"]["answered"],
            found["csat"]["answered_share"]) == (2, 1, 0, 0.0)
    assert "(survey)" not in found["nodes"]


def test_only_a_twilio_recording_is_kept_and_its_processing_completes_it(
        app: Any, client: Any, agent: Any) -> None:
    call = bridged(client)
    call.bridge()
    call.press("2")
    call.post(call.action, RecordingUrl="http://api.twilio.com/rec/RE2", RecordingDuration="5")
    assert row(app, call.sid)["csat_comment_url"] is None and call.says() == [EN["thanks"]]

    other = bridged(client)
    other.bridge()
    other.press("3")
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE3"
    other.post(other.action, RecordingUrl=url, RecordingDuration="12", Digits="#")
    response = other.send("/voice/recording", RecordingSid="RE3", RecordingUrl=url,
                          RecordingDuration="10", RecordingStatus="completed")
    assert response.status_code == 204
    assert (row(app, other.sid)["csat_comment_url"], row(app, other.sid)["csat_comment_s"]) \
        == (url, 10)
    assert build(app.config["DATABASE"])["csat"]["comments"] == 1


@pytest.mark.parametrize(("settings_changed", "heard", "then"), [
    ({"CSAT": False, "CSAT_COMMENT": False}, [EN["goodbye"]], "Hangup"),
    ({"CSAT": False}, [EN["comment_only"]], "Record"),
])
def test_the_settings_turn_the_survey_off(settings: dict[str, Any], clock: Any,
                                          settings_changed: dict[str, Any], heard: list[str],
                                          then: str) -> None:
    app = create_app({**settings, **settings_changed})
    app.extensions["ivr"].users.add("wang", "a long password", "agent", datetime.now(UTC),
                                    queues=("general",), phone=AGENT_PHONE)
    call = bridged(app.test_client())
    root = call.bridge()
    assert [s[:len(h)] for s, h in zip(call.says(), heard, strict=True)] == heard
    assert root.find(then) is not None and root.find("Gather") is None
    asked = row(app, call.sid)["csat_asked_at"]
    assert (asked is not None) == (then == "Record")


def test_without_the_comment_a_score_is_thanked_and_goodbye(
        settings: dict[str, Any], clock: Any) -> None:
    app = create_app({**settings, "CSAT_COMMENT": False})
    app.extensions["ivr"].users.add("wang", "a long password", "agent", datetime.now(UTC),
                                    queues=("general",), phone=AGENT_PHONE)
    call = bridged(app.test_client())
    call.bridge()
    root = call.press("1")
    assert call.says() == [EN["thanks"]] and root.find("Hangup") is not None
    assert root.find("Record") is None and row(app, call.sid)["csat_score"] == 1


def test_the_report_renders_the_verdicts_and_an_older_database_has_none(app: Any) -> None:
    empty = build(app.config["DATABASE"])["csat"]
    assert (empty["bridged"], empty["answered_share"], empty["agents"]) == (0, None, {})
    assert all(t.name != "csat" for t in report_render.tables(build(app.config["DATABASE"])))
    assert survey.NODES == {"(survey)", "(comment)"}


def test_ivr_call_walks_a_bridge_into_the_survey(runner: CliRunner, workdir: Any) -> None:
    """The simulator's agent answers after 20 s, talks a minute and hangs up; the caller
    hears the question and presses 4 (the "_" answers the hold document's Gather)."""
    result = runner.invoke(cli, ["call", "--lang", "en-US", "--press", "0 _ 4 _",
                                 "--bridge-after", "20", "--talk", "60", "--at", "wed 10:00"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    said = [line for line in lines if " say " in line]
    assert any(EN["question"] in line for line in said)
    assert any(EN["comment"] in line for line in said)
    assert any(EN["thanks"] in line for line in said)
    assert any("bridge" in line and "60 s" in line for line in lines)
    refused = runner.invoke(cli, ["call", "--press", "0", "--talk", "60"])
    assert refused.exit_code == 2 and "give --bridge-after S too" in refused.output


def test_the_console_report_shows_the_verdicts_in_both_languages(
        app: Any, client: Any, agent: Any) -> None:
    call = bridged(client)
    call.bridge()
    call.press("4")
    call.hang_up()
    app.extensions["ivr"].users.add("lead", "correct horse battery", "ops", datetime.now(UTC))
    console = app.test_client()

    def csrf(page: bytes) -> str:
        found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        assert found, page[:300]
        return found.group(1).decode()

    console.post("/ops/login", data={"name": "lead", "password": "correct horse battery",
                                     "csrf_token": csrf(console.get("/ops/login").data)})
    page = console.get("/ops/report").data.decode()
    assert 'id="report-csat"' in page and "Callers&#39; verdict after an agent" in page
    assert 'id="report-csat"' in page and page.count('id="report-csat"') == 1
    agent_row = re.search(r'<tr data-by="agents" data-name="wang">(.*?)</tr>', page)
    assert agent_row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", agent_row.group(1))
    assert cells == ["agent", "wang", "1", "1", "1", "100.0 %", "4.0", "0", "0", "0", "1", "0",
                     "0"]
    console.post("/ops/language", data={"lang": "zh", "back": "/ops/report",
                                        "csrf_token": csrf(console.get("/ops/").data)})
    zh = console.get("/ops/report").data.decode()
    assert "客服代表服务后的来电者评价" in zh and ">客服代表</td><td>wang<" in zh
