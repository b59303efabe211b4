"""The console attacked as an outsider would: log-ins in parallel, a session replayed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from test_console import PASSWORD, log_in, token

pytestmark = pytest.mark.both_backends


def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(app, clock):
    """20 wrong passwords at once for one name: at most 5 are checked, the rest refused,
    and the right password after them is refused too."""
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
    assert failures == 8  # the four wrong ones, by name and by address; none for the right
