"""The console attacked as an outsider would: log-ins in parallel or through the reverse
proxy, a session replayed."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from test_console import PASSWORD, log_in, token

from ivr import create_app

pytestmark = pytest.mark.both_backends

#: the reverse proxy in front, as the app sees it
PROXY = "127.0.0.1"


def attempt(app, name, password, client, *, proxied=True, forged=""):
    """A log-in sent by a browser at address ``client``, through the reverse proxy (which
    appends the address it saw to X-Forwarded-For) when ``proxied``, else straight to the
    app; ``forged``: an X-Forwarded-For the browser wrote itself. The response."""
    environ = {"REMOTE_ADDR": PROXY if proxied else client}
    forwarded = ", ".join(filter(None, [forged, client if proxied else ""]))
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    browser = app.test_client()
    page = browser.get("/ops/login", environ_base=environ, headers=headers).data
    return browser.post("/ops/login", environ_base=environ, headers=headers, data={
        "name": name, "password": password, "csrf_token": token(page)})


def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(settings, clock):
    """20 wrong passwords at once for one name: at most 5 are checked, the rest refused,
    and the right password after them is refused too; with all 20 hashed at once if they
    get that far (LOGINS_AT_ONCE=20), so the throttle alone is what holds them."""
    app = create_app({**settings, "LOGINS_AT_ONCE": 20})
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    answers: list[bytes] = []
    start = threading.Barrier(20)

    def guess(n: int) -> None:
        client = app.test_client()
        page = client.get("/ops/login").data
        start.wait()
        answers.append(client.post("/ops/login", data={
            "name": "lead", "password": f"wrong guess {n:02d}", "csrf_token": token(page)},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).data)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = sum(b"Wrong name" in a for a in answers)
    refused = sum(b"Too many failed log-ins" in a for a in answers)
    assert (checked, refused) == (5, 15)
    assert b"Too many failed log-ins" in log_in(app.test_client()).data


def test_a_right_password_leaves_no_failure_counted(app, clock):
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    client = app.test_client()
    for _ in range(4):
        log_in(client, password="wrong password!")
    assert log_in(client).status_code == 302
    failures = app.extensions["ivr"].store.read_one("SELECT COUNT(*) FROM login_failures")[0]
    assert failures == 12  # the four wrong ones, by name, address and both; none for the right


# -- behind the reverse proxy --------------------------------------------------------------
def test_behind_the_proxy_made_up_names_do_not_lock_the_other_users_out(settings, clock):
    """IVR_TRUSTED_PROXIES=1: the throttle counts the client the proxy saw, not the proxy."""
    app = create_app({**settings, "TRUSTED_PROXIES": 1})
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    for n in range(5):
        assert b"Wrong name" in attempt(app, f"made-up-{n}", "wrong password!", "203.0.113.9").data
    assert attempt(app, "lead", PASSWORD, "198.51.100.7").status_code == 302


def test_behind_the_proxy_what_the_client_wrote_in_forwarded_for_is_not_read(settings, clock):
    app = create_app({**settings, "TRUSTED_PROXIES": 1})
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    for n in range(5):
        attempt(app, "lead", "wrong password!", "203.0.113.9", forged=f"10.9.9.{n}")
    refused = attempt(app, "lead", PASSWORD, "203.0.113.9", forged="10.9.9.99")
    assert b"Too many failed log-ins" in refused.data


def test_without_trusted_proxies_forwarded_for_is_never_read(app, clock):
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    for n in range(5):
        attempt(app, "lead", "wrong password!", "203.0.113.9", proxied=False, forged=f"10.9.9.{n}")
    refused = attempt(app, "lead", PASSWORD, "203.0.113.9", proxied=False, forged="10.9.9.99")
    assert b"Too many failed log-ins" in refused.data


# -- nobody keeps a user out ---------------------------------------------------------------
def test_a_stranger_cannot_keep_a_name_out(app, clock):
    """5 wrong passwords for lead from other addresses every 15 minutes: each time lead,
    at its own address, is in after a second."""
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    for round in range(3):
        for n in range(5):
            guess = attempt(app, "lead", "wrong password!", f"203.0.113.{10 * round + n}",
                            proxied=False)
            assert b"Wrong name" in guess.data
        refused = attempt(app, "lead", PASSWORD, "198.51.100.7", proxied=False)
        assert b"try again in 1 s." in refused.data
        clock.tick(timedelta(seconds=1))
        assert attempt(app, "lead", PASSWORD, "198.51.100.7", proxied=False).status_code == 302
        clock.tick(timedelta(minutes=15))


def test_a_names_delay_doubles_with_each_failure_up_to_30_seconds(app, clock):
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    waits = []
    for n in range(11):  # each guess from an address of its own, once the delay is over
        assert b"Wrong name" in attempt(app, "lead", "wrong password!", f"203.0.113.{n}",
                                        proxied=False).data
        right = attempt(app, "lead", PASSWORD, "198.51.100.7", proxied=False)
        if right.status_code == 302:
            waits.append(0)
            continue
        waits.append(int(re.search(rb"try again in (\d+) s\.", right.data).group(1)))
        clock.tick(timedelta(seconds=waits[-1]))
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 30, 30]


def test_five_wrong_passwords_refuse_the_name_at_that_address_only(app, clock):
    """A user who mistyped five times is refused there for 15 minutes; a colleague behind
    the same address is not, nor the user elsewhere after a second."""
    users = app.extensions["ivr"].users
    for name in ("lead", "zhou"):
        users.add(name, PASSWORD, "ops", datetime.now(UTC))
    for _ in range(5):
        attempt(app, "lead", "wrong password!", "10.0.0.1", proxied=False)
    refused = attempt(app, "lead", PASSWORD, "10.0.0.1", proxied=False)
    assert b"Too many failed log-ins: try again in 15 minutes." in refused.data
    assert attempt(app, "zhou", PASSWORD, "10.0.0.1", proxied=False).status_code == 302
    clock.tick(timedelta(seconds=1))
    assert attempt(app, "lead", PASSWORD, "10.0.0.2", proxied=False).status_code == 302


def test_one_address_trying_many_names_is_refused(app, clock):
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    for n in range(20):  # the names one address may try in 15 minutes
        assert b"Wrong name" in attempt(app, f"made-up-{n}", "wrong password!", "203.0.113.9",
                                        proxied=False).data
    refused = attempt(app, "lead", PASSWORD, "203.0.113.9", proxied=False)
    assert b"Too many failed log-ins: try again in 15 minutes." in refused.data
    assert attempt(app, "lead", PASSWORD, "198.51.100.7", proxied=False).status_code == 302


# -- a session replayed --------------------------------------------------------------------
def saved_session(app, name):
    """A browser logged in as ``name``, and its session cookie as saved then."""
    browser = app.test_client()
    assert log_in(browser, name).status_code == 302
    return browser, browser.get_cookie("session").value


def replayed(app, cookie):
    """The Audit page asked for with a saved session cookie: where it is answered."""
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    answer = replay.get("/ops/audit")
    return answer.location if answer.status_code == 302 else answer.status_code


def test_a_cookie_saved_before_log_out_opens_nothing_after_it(app, clock):
    users = app.extensions["ivr"].users
    users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    browser, cookie = saved_session(app, "lead")
    other, _ = saved_session(app, "lead")  # a second browser: a log-in ends no session
    assert replayed(app, cookie) == 200 and other.get("/ops/audit").status_code == 200
    browser.post("/ops/logout", data={"csrf_token": token(browser.get("/ops/").data)})
    assert replayed(app, cookie) == "/ops/login"
    assert other.get("/ops/audit").location == "/ops/login"  # log-out ends every session
    assert saved_session(app, "lead")[0].get("/ops/audit").status_code == 200


@pytest.mark.parametrize("change", ["disabled and enabled", "new password",
                                    "removed and added again"])
def test_disabling_removing_or_a_new_password_end_the_sessions_before(app, clock, change):
    users, now = app.extensions["ivr"].users, datetime.now(UTC)
    users.add("lead", PASSWORD, "ops", now)
    users.add("zhou", PASSWORD, "ops", now)
    _, cookie = saved_session(app, "zhou")
    if change == "disabled and enabled":
        users.set_disabled("zhou", True, now, "support")
        users.set_disabled("zhou", False, now, "support")
    elif change == "new password":
        users.set_password("zhou", PASSWORD + "!", now, "support")
    else:
        users.remove("zhou", now, "support")
        users.add("zhou", PASSWORD, "ops", now)
    assert replayed(app, cookie) == "/ops/login"
    password = PASSWORD + "!" if change == "new password" else PASSWORD
    assert log_in(app.test_client(), "zhou", password).status_code == 302


# -- log-ins as CPU load -------------------------------------------------------------------
def test_log_ins_past_the_hashing_bound_get_429_unhashed(app, clock):
    """While LOGINS_AT_ONCE (2) passwords are being hashed in this process, another log-in
    is answered 429 with Retry-After, neither counted nor hashed; once one is done, in."""
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", datetime.now(UTC))
    hashing = app.extensions["ivr_console"]["hashing"]
    held = [hashing.acquire(blocking=False) for _ in range(3)]
    assert held == [True, True, False]  # two at once, as the setting's default says
    try:
        busy = attempt(app, "lead", PASSWORD, "198.51.100.7", proxied=False)
    finally:
        hashing.release()
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert b"Too many log-ins at once: try again in a moment." in busy.data
    store = app.extensions["ivr"].store
    assert store.read_one("SELECT COUNT(*) FROM login_failures")[0] == 0  # reserved before a hash
    assert attempt(app, "lead", PASSWORD, "198.51.100.7", proxied=False).status_code == 302
    hashing.release()
