"""What the console's answers let a browser do: no page framed by another site or kept in a
cache, no link made of a field a webhook filled in, no header made of a form's field."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from test_console import PAGES, PASSWORD, log_in, token


@pytest.fixture(name="lead")
def _lead(app, client):
    """The test's client, logged in as an ops lead."""
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    assert log_in(client).status_code == 302
    return client


def answers(app, lead):
    """One answer of each kind the console gives: every page, the log-in form, a redirect,
    a refused form (400), a page refused to an agent (403)."""
    found = {page: lead.get(page) for page in PAGES}
    outsider = app.test_client()
    found["log-in form"] = outsider.get("/ops/login")
    found["redirect to the log-in"] = outsider.get("/ops/audit")
    found["refused form"] = lead.post("/ops/tickets", data={"number": "1", "note": "x"})
    app.extensions["ivr"].users.add("wang", PASSWORD, "agent", datetime.now(UTC),
                                    queues=("general",), phone="+8613900000001")
    agent = app.test_client()
    log_in(agent, "wang")
    found["page refused"] = agent.get("/ops/audit")
    return found


def test_no_console_answer_is_framed_or_cached(app, lead):
    found = answers(app, lead)
    assert [r.status_code for r in found.values()][-4:] == [200, 302, 400, 403]
    for what, response in found.items():
        assert response.headers["X-Frame-Options"] == "DENY", what
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'", what
        assert response.headers["Cache-Control"] == "no-store", what
    style = lead.get("/ops/static/console.css")
    assert style.status_code == 200 and style.headers["X-Frame-Options"] == "DENY"
    assert "no-store" not in style.headers.get("Cache-Control", "")  # a stylesheet may be kept


def test_frame_ancestors_is_added_to_a_policy_already_set(app, lead):
    def policy(response):
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors *"
        return response

    # a page's own policy: the console's functions run last added first, so before its own
    app.after_request_funcs["console"].append(policy)
    assert lead.get("/ops/").headers["Content-Security-Policy"] == \
        "default-src 'self'; frame-ancestors 'none'"


def complaint_with_recording(caller, url: str) -> str:
    """A complaint recorded through the signed webhooks, Twilio's RecordingUrl being
    ``url``; its ticket number."""
    call = caller()
    call.start()
    call.keys("2", "4", "1", "10000001#", "246810", "1")
    call.post(call.action, RecordingUrl=url, RecordingDuration="12", Digits="#")
    return re.sub(r"\D", "", next(h for h in call.heard if "ticket number is" in h)
                  .split("ticket number is ")[1].split(".")[0])


def recording_cell(client, number: str) -> str:
    page = client.get("/ops/tickets").data.decode()
    row = re.search(rf'<tr id="ticket-{number}".*?</tr>', page, re.S).group(0)
    return re.search(r'<td data-figure="recording">(.*?)</td>', row, re.S).group(1)


@pytest.mark.parametrize("url", [
    "javascript:alert(document.cookie)", "JavaScript:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "https://evil.example/rec/RE1",
    "http://api.twilio.com/rec/RE1", "https://api.twilio.com.evil.example/rec/RE1",
    "https://api.twilio.com@evil.example/rec/RE1", "//evil.example/rec/RE1",
    '"><script>alert(1)</script>', "https://[api.twilio.com/rec"])
def test_a_recording_not_on_twilios_https_host_is_shown_as_text(lead, caller, url):
    number = complaint_with_recording(caller, url)
    cell = recording_cell(lead, number)
    assert "<a" not in cell and "<script" not in cell
    assert html.unescape(cell) == url  # the text, escaped


def test_a_recording_on_twilios_https_host_is_a_link(lead, caller):
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
    cell = recording_cell(lead, complaint_with_recording(caller, url))
    assert cell.startswith(f'<a href="{url}" rel="noreferrer">')


@pytest.mark.parametrize("back", [
    "/ops/\r\nSet-Cookie: session=forged", "/ops/week\n", "/ops/ week", "https://evil.example",
    "//evil.example", "/ops/\\evil.example", "javascript:alert(1)", "/voice", "/ops"])
def test_the_language_switch_refuses_a_back_not_a_console_page(lead, back):
    page = lead.get("/ops/").data
    refused = lead.post("/ops/language", data={"lang": "zh", "back": back,
                                               "csrf_token": token(page)})
    assert refused.status_code == 400
    assert b"back: not a page of the console" in refused.data
    assert "Location" not in refused.headers and "forged" not in str(refused.headers)


@pytest.mark.parametrize(("back", "goes_to"), [
    ("/ops/week", "/ops/week"), ("/ops/calls?q=1234", "/ops/calls?q=1234"),
    ("/ops/login?", "/ops/login"), ("", "/ops/")])
def test_the_language_switch_goes_back_to_the_console_page(lead, back, goes_to):
    page = lead.get("/ops/").data
    switched = lead.post("/ops/language", data={"lang": "zh", "back": back,
                                                "csrf_token": token(page)})
    assert switched.status_code == 302 and switched.location == goes_to
