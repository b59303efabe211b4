"""The ops console (/ops/): log-in, throttling, roles, CSRF, the audit log, each page's
figures on calls made through the app, ``ivr ops`` and the SECRET_KEY rule of ivr serve."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import programs
import pytest
from flask.sessions import SecureCookieSessionInterface

from ivr import create_app
from ivr.cli import cli
from ivr.console import text as words
from ivr.records import live

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
PAGES = ("/ops/", "/ops/tree", "/ops/report", "/ops/week", "/ops/callbacks", "/ops/tickets",
         "/ops/calls", "/ops/audit", "/ops/notices")
OPS_ONLY = ("/ops/tree", "/ops/report", "/ops/week", "/ops/calls", "/ops/audit", "/ops/notices")


def token(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1).decode()


def log_in(client, name="lead", password=PASSWORD):
    form = client.get("/ops/login").data
    return client.post("/ops/login", data={"name": name, "password": password,
                                           "csrf_token": token(form)})


def post(client, page, **form):
    """A console form sent as a browser sends it: with the token of the page it is on."""
    return client.post(page, data={**form, "csrf_token": token(client.get(page).data)})


@pytest.fixture(name="people")
def _people(app):
    users, now = app.extensions["ivr"].users, datetime.now(UTC)
    users.add("lead", PASSWORD, "ops", now)
    users.add("wang", PASSWORD, "agent", now, queues=("general",), phone="+8613900000001")
    users.add("li", PASSWORD, "agent", now, queues=("payments",), phone="+8613900000002")
    return users


def queued(caller, number="+8613700000000"):
    """A call through the app: English, an agent, so waiting in the queue general."""
    call = caller(number)
    call.start()
    call.keys("2", "0")
    assert call.queue == "general"
    return call


def audit(app):
    return [dict(r) for r in app.extensions["ivr"].store.read_all(
        "SELECT actor, action, target, detail FROM audit_log ORDER BY id")]


# -- log-in -------------------------------------------------------------------------------
def test_every_page_needs_a_log_in(client, people):
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and response.location == "/ops/login", page


def test_log_in_wrong_password_and_log_out(app, client, people):
    wrong = log_in(client, password="not the password")
    assert wrong.status_code == 200 and b"Wrong name or password." in wrong.data
    assert log_in(client, name="nobody").status_code == 200
    right = log_in(client)
    assert right.status_code == 302 and right.location == "/ops/"
    assert b"Signed in as lead (ops)" in client.get("/ops/").data
    assert post(client, "/ops/").status_code == 405  # Now takes no form
    out = client.post("/ops/logout", data={"csrf_token": token(client.get("/ops/").data)})
    assert out.status_code == 302 and client.get("/ops/").status_code == 302
    assert [(r["actor"], r["action"]) for r in audit(app)] == [("lead", "log in"),
                                                              ("lead", "log out")]


def test_failed_log_ins_are_throttled_by_keyed_hashes(app, client, people, clock):
    for _ in range(5):
        assert b"Wrong name" in log_in(client, password="wrong password!").data
    refused = log_in(client)  # the right password, but too many failures
    assert b"Too many failed log-ins: try again in 15 minutes." in refused.data
    assert client.get("/ops/").status_code == 302
    keys = app.extensions["ivr"].store.read_all("SELECT key, name_key FROM login_failures")
    assert len(keys) == 15  # the name's, the address's and the pair's, five each
    assert all(re.fullmatch(r"[0-9a-f]{64}", r[k]) for r in keys for k in ("key", "name_key"))
    assert not any("lead" in r[k] or "127.0.0.1" in r[k] for r in keys for k in ("key", "name_key"))
    clock.tick(timedelta(minutes=15, seconds=1))
    assert log_in(client).status_code == 302


def test_a_throttled_name_waits_a_second_at_another_address(app, people, clock):
    """Five wrong passwords at one address refuse the name there for 15 minutes; at another
    address it waits a second, not 15 minutes (a stranger could keep it out for good)."""
    def from_address(address, password=PASSWORD):
        client = app.test_client()
        page = client.get("/ops/login").data
        return client.post("/ops/login", data={"name": "lead", "password": password,
                                               "csrf_token": token(page)},
                           environ_base={"REMOTE_ADDR": address})

    for _ in range(5):
        from_address("10.0.0.1", "x" * 10)
    refused = from_address("10.0.0.2")
    assert b"Too many failed log-ins for this name: try again in 1 s." in refused.data
    clock.tick(timedelta(seconds=1))
    assert from_address("10.0.0.2").location == "/ops/"
    assert b"try again in 15 minutes" in from_address("10.0.0.1").data  # where they failed


# -- the session and CSRF ------------------------------------------------------------------
def test_session_cookie_is_secure_httponly_samesite(settings, clock, people):
    app = create_app({**settings, "SESSION_COOKIE_SECURE": True})
    app.extensions["ivr"].users.add("boss", PASSWORD, "ops", datetime.now(UTC))
    client = app.test_client()
    response = log_in(client, "boss")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_is_not_signed_with_the_secret_key_itself(app, client, people):
    """A cookie forged with SECRET_KEY (the lockout book's key) does not log anyone in."""
    app.secret_key = app.config["SECRET_KEY"]
    forged = SecureCookieSessionInterface().get_signing_serializer(app).dumps({"user": "lead"})
    client.set_cookie("session", forged)
    assert client.get("/ops/").status_code == 302


def test_console_forms_without_the_token_are_refused(app, client, people, caller):
    call = queued(caller)  # /voice is exempt from CSRF: Twilio signs it instead
    assert client.post("/ops/login", data={"name": "lead", "password": PASSWORD}
                       ).status_code == 400
    log_in(client)
    store = app.extensions["ivr"].store
    store.add_callback(number="+8613700000000", account=None, queue="general", issue="other",
                       window_start=None, window_end=None, call_sid=call.sid,
                       now=datetime.now(UTC))
    refused = client.post("/ops/callbacks", data={"id": "1", "outcome": "done", "note": "x"})
    assert refused.status_code == 400
    refused = client.post("/ops/callbacks", data={"id": "1", "outcome": "done",
                                                  "csrf_token": "forged"})
    assert refused.status_code == 400
    assert [c["id"] for c in store.pending_callbacks()] == [1]
    assert [r["action"] for r in audit(app)] == ["log in"]


def test_voice_and_the_console_never_share_an_authentication_path(client, people, caller):
    call = caller()
    call.start()  # a signed Twilio request...
    assert client.get("/ops/").status_code == 302  # ...logs no one in
    log_in(client)
    unsigned = client.post("/voice", data={"CallSid": "CA" + "9" * 32, "From": "+8613700000009",
                                           "To": "+8695188"})
    assert unsigned.status_code == 403  # a console session does not pass /voice
    assert client.post("/agent/voice", data={"CallSid": "CA" + "8" * 32}).status_code == 403


# -- roles ---------------------------------------------------------------------------------
def test_an_agent_sees_now_callbacks_and_tickets_of_its_queues_only(app, client, people,
                                                                    caller):
    general, payments = queued(caller), caller("+8613700000005")
    payments.start()
    payments.keys("2", "1", "0")
    store, now = app.extensions["ivr"].store, datetime.now(UTC)
    for call, queue in ((general, "general"), (payments, "payments")):
        store.add_callback(number=call.from_number, account=None, queue=queue, issue=None,
                           window_start=None, window_end=None, call_sid=call.sid, now=now)
    log_in(client, "wang")
    for page in OPS_ONLY:
        assert client.get(page).status_code == 403, page
    now_page = client.get("/ops/").data
    assert b'id="queue-general"' in now_page and b'id="queue-payments"' not in now_page
    assert b'id="your-caller"' in now_page and b"Tree" not in now_page
    callbacks = client.get("/ops/callbacks").data
    assert b'id="callback-1"' in callbacks and b'id="callback-2"' not in callbacks
    # nor can it settle another queue's callback by its number
    post(client, "/ops/callbacks", id="2", outcome="done", note="not mine")
    assert [c["id"] for c in store.pending_callbacks()] == [1, 2]


# -- pages ---------------------------------------------------------------------------------
def cells(page: bytes, row_id: str) -> dict[str, str]:
    row = re.search(rf'<(tr|section) id="{row_id}".*?</(tr|section)>'.encode(), page, re.S)
    assert row, page
    return {k.decode(): v.decode().strip() for k, v in
            re.findall(rb'data-figure="([^"]+)">([^<]*)<', row.group(0))}


def test_now_shows_the_queues_waits_staffing_and_the_ivr(app, client, people, caller, clock):
    first = queued(caller)
    clock.tick(30)
    queued(caller, "+8613700000002")
    browsing = caller("+8613700000003")
    browsing.start()
    browsing.press("2")  # at the main menu
    clock.tick(15)
    log_in(client)
    page = client.get("/ops/").data
    assert b'<meta http-equiv="refresh" content="15">' in page
    general = cells(page, "queue-general")
    assert general.items() >= {"waiting": "2", "longest": "45 s", "expected": "5 s",
                               "observed": "-", "planned": "12", "talking": "0",
                               "service-level": "- (0 answered today)"}.items(), general
    assert cells(page, "queue-payments")["waiting"] == "0"
    assert re.search(rb'data-node="main"><td>main</td><td class="n">1<', page)

    store, now = app.extensions["ivr"].store, datetime.now(UTC)
    assert live.record_bridge(store, first.sid, "wang", 45, now)
    general = cells(client.get("/ops/").data, "queue-general")
    assert general["waiting"] == "1" and general["talking"] == "1"
    assert general["observed"] == "45 s" and general["service-level"].startswith("0.0 %")
    agent = app.test_client()
    log_in(agent, "wang")
    mine = agent.get("/ops/").data
    assert re.search(rb'id="caller-lang">en-US<', mine)
    assert re.search(rb'id="caller-queue" data-queue="general">', mine)
    assert re.search(rb'id="caller-wait">45 s<', mine)
    assert re.search(rb'id="caller-verified">no<', mine)


def test_callbacks_listed_in_the_centres_time_and_marked_done_with_a_note(app, client,
                                                                         people, caller):
    call = caller()
    call.start()
    call.keys("1", "0")  # Mandarin, an agent: general
    store = app.extensions["ivr"].store
    start = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
    store.add_callback(number=call.from_number, account=None, queue="general",
                       issue="other", window_start=start, window_end=start + timedelta(hours=1),
                       call_sid=call.sid, now=datetime.now(UTC))
    log_in(client, "wang")
    page = client.get("/ops/callbacks").data.decode()
    row = re.search(r'<tr id="callback-1".*?</tr>', page, re.S).group(0)
    assert "2026-11-25 14:00 – 15:00" in row and "zh-CN" in row and "other" in row
    assert "…0000" in row and "+8613700000000" not in page  # the number masked
    done = post(client, "/ops/callbacks", id="1", outcome="done", note="called, sorted")
    assert done.status_code == 302
    assert b"Callback 1 marked done." in client.get("/ops/callbacks").data
    row = store.read_one("SELECT status, done_by, note FROM callbacks WHERE id=1")
    assert tuple(row) == ("done", "wang", "called, sorted")
    assert audit(app)[-1] == {"actor": "wang", "action": "callback done",
                              "target": "callback 1", "detail": "called, sorted"}
    again = post(client, "/ops/callbacks", id="1", outcome="failed", note="")
    assert again.status_code == 302 and len(audit(app)) == 2  # log-in, the one change
    assert b"no longer open" in client.get("/ops/callbacks").data


def complaint_filed(caller):
    """A call that files a complaint (English, verified, recorded): it and its ticket's
    number as read back."""
    call = caller()
    call.start()
    call.keys("2", "4", "1", "10000001#", "246810", "1")
    call.record()
    number = re.sub(r"\D", "", next(h for h in call.heard if "ticket number is" in h)
                    .split("ticket number is ")[1].split(".")[0])
    return call, number


def ticket_seen_by(client, people, number):
    """Which agents have the ticket on their Tickets page: wang takes general, zhao
    complaints."""
    people.add("zhao", PASSWORD, "agent", datetime.now(UTC), queues=("complaints",),
               phone="+8613900000003")
    seen = set()
    for agent in ("wang", "zhao"):
        other = client.application.test_client()
        log_in(other, agent)
        if f'id="ticket-{number}"' in other.get("/ops/tickets").data.decode():
            seen.add(agent)
    return seen


def test_tickets_with_recording_reply_by_and_closed_with_a_note(app, client, people, caller):
    _, number = complaint_filed(caller)
    assert ticket_seen_by(client, people, number) == {"zhao"}  # hung up before a queue
    log_in(client)
    page = client.get("/ops/tickets").data.decode()
    row = re.search(rf'<tr id="ticket-{number}".*?</tr>', page, re.S).group(0)
    assert 'href="https://api.twilio.com/rec/RE1"' in row
    assert "2026-11-27 09:30" in row  # filed 09:30 Shanghai time, reply within 48 hours
    assert post(client, "/ops/tickets", number=number, note="").status_code == 302
    assert b"A note is required." in client.get("/ops/tickets").data
    post(client, "/ops/tickets", number=number, note="refunded")
    closed = client.get("/ops/tickets").data.decode()
    assert re.search(rf'<tr id="ticket-{number}" data-status="closed"', closed)
    assert "refunded (lead, " in closed
    assert audit(app)[-1] == {"actor": "lead", "action": "ticket closed",
                              "target": f"ticket {number}", "detail": "refunded"}
    assert "ticket closed" in client.get("/ops/audit").data.decode()


def test_a_complaint_filed_while_its_team_is_closed_is_the_complaints_agents_ticket(
        app, client, people, caller, clock):
    """Before 09:00 the complaints team is closed and general is open: the caller files a
    complaint, then goes on to an agent in general. The ticket is still the complaints
    team's, on their agents' Tickets page, not general's."""
    clock.move_to("2026-11-25 00:30:00")  # Wednesday 08:30 in Shanghai
    call, number = complaint_filed(caller)
    call.press("0")  # an agent: the complaints team is not available, general is
    assert call.said("The team for this question is not available now")
    call.press("2")
    if call.queue is None:  # a long wait offered first: keep waiting
        call.press("3")
    assert call.queue == "general"
    assert ticket_seen_by(client, people, number) == {"zhao"}
    log_in(client)
    page = client.get("/ops/tickets").data.decode()
    row = re.search(rf'<tr id="ticket-{number}".*?</tr>', page, re.S).group(0)
    assert 'data-team="complaints">Complaint</td>' in row  # the team, named by its topic
    # nor can general's agent close it by its number
    wang = client.application.test_client()
    log_in(wang, "wang")
    post(wang, "/ops/tickets", number=number, note="not mine")
    assert app.extensions["ivr"].store.read_one(
        "SELECT status FROM tickets WHERE number=?", (number,))[0] == "open"


def test_calls_found_by_callsid_or_last_4_digits_with_the_path(app, client, people, caller):
    call = caller("+8613800138000")  # the demo account 10000001's phone
    call.start()
    call.keys("2", "1", "1", "1", "246810")  # English, top-up, status, its own account, PIN
    log_in(client)
    by_sid = client.get(f"/ops/calls?q={call.sid}").data.decode()
    timeline = re.search(r'<ol id="call-timeline".*?</ol>', by_sid, re.S).group(0)
    assert re.findall(r'data-node="([^"]+)"', timeline)[:2] == ["(start)", "language"]
    assert "246810" not in by_sid and "10000001" not in by_sid  # masked as events are
    by_phone = client.get("/ops/calls?q=8000").data.decode()
    assert call.sid in by_phone and "…8000" in by_phone and "+8613800138000" not in by_phone
    assert call.sid in client.get("/ops/calls?q=0001").data.decode()  # the account's last 4
    assert "Type a CallSid" in client.get("/ops/calls?q=12").data.decode()


def test_week_marks_today_and_now(client, people):
    log_in(client)
    page = client.get("/ops/week").data.decode()
    assert page.count('<svg id="week-') == 5
    assert 'id="week-general-now"' in page
    now_mark = re.search(r'<rect id="week-general-now"[^>]*>', page).group(0)
    assert 'data-day="wed"' in now_mark and 'data-hour="9"' in now_mark  # Wednesday 09:30


def week_rows(page: str, queue: str) -> list[str]:
    """The row labels of a queue's week map, top to bottom."""
    svg = page.split(f'<svg id="week-{queue}"', 1)[1].split("</svg>", 1)[0]
    return re.findall(r'<text x="2" y="\d+"[^>]*>([^<]+)</text>', svg)


def test_week_on_a_public_holiday_shows_today_as_it_runs(app, client, people, clock):
    clock.move_to("2026-10-01 02:30:00")  # National Day, 10:30 in Shanghai
    log_in(client)
    page = html.unescape(client.get("/ops/week").data.decode())
    assert "Today is National Day, a public holiday: it runs on the holiday hours and " \
        "Sun's traffic" in page
    assert week_rows(page, "general") == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
                                          "today"]
    now_mark = re.search(r'<rect id="week-general-now"[^>]*>', page).group(0)
    assert 'data-day="today"' in now_mark and 'data-hour="10"' in now_mark
    # the holiday's own hours (09:00-18:00): open at 09, closed at 08 and 18, as the model
    centre, moment = app.extensions["ivr"].centre, datetime(2026, 10, 1, 2, 30, tzinfo=UTC)
    waits = centre.day_waits("general", moment)
    assert waits[8] is None and waits[9] is not None and waits[17] is not None
    assert waits[18] is None
    assert waits[10] == pytest.approx(centre.expected_wait_s("general", moment))
    assert centre.typical_week("general")[3][8] is not None  # a Thursday opens at 08:00


def test_week_on_a_make_up_working_day_says_so(client, people, clock):
    clock.move_to("2026-10-10 02:30:00")  # a Saturday worked as a Monday
    log_in(client)
    page = client.get("/ops/week").data.decode()
    assert "Today is a make-up working day: it runs as Mon" in page
    assert week_rows(page, "payments")[-1] == "today"
    clock.move_to("2026-10-17 02:30:00")  # the next Saturday: an ordinary one
    log_in(client)  # a week on: the session has expired
    page = client.get("/ops/week").data.decode()
    assert 'id="week-today-note"' not in page and len(week_rows(page, "payments")) == 7
    now_mark = re.search(r'<rect id="week-payments-now"[^>]*>', page).group(0)
    assert 'data-day="sat"' in now_mark


def test_tree_shows_the_version_and_todays_traffic(app, client, people, caller):
    queued(caller)
    log_in(client)
    page = client.get("/ops/tree").data.decode()
    assert app.extensions["ivr"].tree.version in page
    assert re.search(r'id="tree-calls">1<', page)
    assert programs.tree_picture() in page and "No A/B trial." in page


def test_report_for_a_period_and_version(app, client, people, caller):
    queued(caller)
    log_in(client)
    page = client.get("/ops/report").data.decode()
    assert 'data-calls="1"' in page and 'id="report-queues"' in page
    assert "1 call, the first at 2026-11-25 09:30, the last at 2026-11-25 09:30." in page
    version = app.extensions["ivr"].tree.version
    assert 'data-calls="1"' in client.get(f"/ops/report?version={version}").data.decode()
    later = client.get("/ops/report?since=2026-11-26").data.decode()
    assert 'data-calls="0"' in later and "No calls in the period." in later
    assert client.get("/ops/report?since=someday").status_code == 400


def test_the_language_switch_is_kept_in_the_session(client, people):
    log_in(client)
    switched = post(client, "/ops/week", lang="zh", back="/ops/week")
    assert switched.status_code == 405  # the switch has its own address
    page = client.get("/ops/").data
    client.post("/ops/language", data={"lang": "zh", "back": "/ops/",
                                       "csrf_token": token(page)})
    assert "实时".encode() in client.get("/ops/").data
    assert "回拨".encode() in client.get("/ops/callbacks").data
    away = client.post("/ops/language", data={"lang": "en", "back": "https://evil.example",
                                              "csrf_token": token(page)})
    assert away.status_code == 400 and "Location" not in away.headers


def test_both_languages_have_every_string():
    assert set(words.TEXT["en"]) == set(words.TEXT["zh"])


# -- ivr ops -------------------------------------------------------------------------------
def test_add_user_asks_twice_and_lists_users(runner, database):
    db = database
    added = runner.invoke(cli, ["ops", "add-user", "lead", "--db", db],
                          input=f"{PASSWORD}\n{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert "added ops lead" in added.output and PASSWORD not in added.output
    agent = runner.invoke(cli, ["ops", "add-user", "wang", "--role", "agent", "--queues",
                                "general,payments", "--code", "4321", "--db", db],
                          input=f"{PASSWORD}\n{PASSWORD}\n135790\n135790\n")
    assert agent.exit_code == 0, agent.output
    listed = runner.invoke(cli, ["ops", "users", "--db", db], env={"IVR_SECRET_KEY": "k"})
    assert listed.output.splitlines() == ["NAME  ROLE   QUEUES            KNOWN BY   STATE",
                                          "wang  agent  general,payments  code 4321  active",
                                          "lead  ops    -                 -          active"]
    assert "scrypt" not in listed.output


def test_add_user_lists_every_mistake(runner, tmp_path):
    result = runner.invoke(cli, ["ops", "add-user", "bad name", "--role", "agent", "--queues",
                                 "nowhere", "--phone", "12345", "--db",
                                 str(tmp_path / "ivr.db")])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "Error: cannot add the user:" in lines  # before any password is asked for
    for says in ("the name 'bad name' must be", "no such queue: nowhere",
                 "the phone must be an E.164 number"):
        assert any(says in line for line in lines), (says, result.output)
    short = runner.invoke(cli, ["ops", "add-user", "y", "--db", str(tmp_path / "ivr.db")],
                          input=f"short\nshort\n{PASSWORD}\n{PASSWORD}\n")
    assert short.exit_code == 0 and "at least 10 characters" in short.output
    mismatch = runner.invoke(cli, ["ops", "add-user", "x", "--db", str(tmp_path / "ivr.db")],
                             input=f"{PASSWORD}\nother one!!\n")
    assert mismatch.exit_code == 1 and "do not match" in mismatch.output


# -- ivr serve and SECRET_KEY ---------------------------------------------------------------
def test_serve_refuses_to_start_without_a_secret_key(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"IVR_SECRET_KEY": None, "TWILIO_AUTH_TOKEN": "t",
           "IVR_DATABASE": str(tmp_path / "ivr.db")}
    result = runner.invoke(cli, ["serve", "--port", "8999"], env=env)
    assert result.exit_code == 1
    line, = result.output.splitlines()
    assert line.startswith("Error: SECRET_KEY is not set") and "IVR_SECRET_KEY" in line
    assert "instance/config.py" in line and "--dev" in line

    started = []
    monkeypatch.setattr("flask.Flask.run", lambda app, **kw: started.append(kw))
    assert runner.invoke(cli, ["serve", "--dev", "--port", "8999"], env=env).exit_code == 0
    assert started and (tmp_path / "secret_key").exists()  # kept beside the database
    monkeypatch.setattr("ivr.web.server.run_gunicorn", lambda app, **kw: started.append(kw))
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "config.py").write_text("SECRET_KEY = 'from the file'\n")
    assert runner.invoke(cli, ["serve", "--port", "8999"], env=env).exit_code == 0
    assert len(started) == 2


def test_the_readme_adds_users_as_it_says(runner, database):
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    section = readme.split("## The ops console")[1].split("\n## ")[0]
    examples = [line.split("#")[0].split() for line in section.splitlines()
                if line.startswith("ivr ops ")]
    assert len(examples) == 8
    db = ["--db", database]
    key = {"IVR_SECRET_KEY": "k"}  # the server's, as the README says ivr ops needs
    for example in examples:
        answers = f"{PASSWORD}\n{PASSWORD}\n" + ("135790\n135790\n" if "--code" in example else "")
        result = runner.invoke(cli, example[1:] + db, input=answers, env=key)
        assert result.exit_code == 0, (example, result.output)
    listed = runner.invoke(cli, ["ops", "users", *db], env=key)
    assert [line.split()[0] for line in listed.output.splitlines()] == ["NAME", "wang", "lead"]
