"""What a webhook step costs the database (issue 21, finding 8): one write transaction for
a step that only answers, the turn taken in the transaction that keeps it; a step that acts
(a PIN checked) still takes its turn first, so of concurrent requests only one acts.

The transactions are counted on the store's own SQLite connection with SQLite's trace
callback (the test client runs the app on this thread, so it uses that connection).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import Caller

from ivr.records.database.sqlite import SQLiteDatabase


@contextmanager
def writes(app: Any) -> Iterator[list[str]]:
    """The write transactions begun on this thread's connection while the block runs."""
    store = app.extensions["ivr"].store
    assert isinstance(store.database, SQLiteDatabase)
    begun: list[str] = []
    connection = store.db
    connection.set_trace_callback(
        lambda sql: begun.append(sql) if sql.startswith("BEGIN IMMEDIATE") else None)
    try:
        yield begun
    finally:
        connection.set_trace_callback(None)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_step_that_only_answers_is_one_write(app: Any, client: Any) -> None:
    Caller(client).start()  # the process's first call also scrubs expired states (then
    # every 10 minutes): a write of its own
    call = Caller(client)
    with writes(app) as begun:
        call.start()  # a new call: kept, with its first step, in one transaction
    assert len(begun) == 1
    with writes(app) as begun:
        call.press("1")  # the language: the turn taken and the step kept together
    assert len(begun) == 1
    with writes(app) as begun:
        call.press("9")  # no option at the main menu: asked again, and kept
    assert len(begun) == 1
    store = app.extensions["ivr"].store
    assert len(store.events(call.sid)) == 3
    assert store.load_call(call.sid, app.extensions["ivr"].now()).turn == 3


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_step_that_checks_a_pin_takes_its_turn_before_it_acts(app: Any, client: Any) -> None:
    """The PIN is checked (the lockout book written) only after the turn is taken: two
    copies of the request cannot both check it."""
    call = Caller(client)
    call.start()
    call.press("1")  # Mandarin
    call.press("1")  # top-up, payments, withdrawals, refunds
    call.press("1")  # a top-up that failed: verify first
    call.press("10000001#")
    action = call.action
    with writes(app) as begun:
        call.press("000000")  # a wrong PIN
    assert len(begun) >= 3  # the turn, the lockout book, the step
    with writes(app) as begun:
        call.post(action, Digits="000000")  # the same request again: nothing checked
    assert begun == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_replayed_step_writes_nothing(app: Any, client: Any) -> None:
    call = Caller(client)
    call.start()
    action = call.action
    call.press("1")
    with writes(app) as begun:
        call.post(action, Digits="1")  # the same request again: the current prompt again
    assert begun == []
    assert len(app.extensions["ivr"].store.events(call.sid)) == 2


def test_a_worker_holds_what_the_webhooks_need_and_no_more(tmp_path: Any) -> None:
    """The app as ``ivr serve`` builds it before the fork, with speech menus in its tree:
    the Mandarin tables, not jieba's and pypinyin's dictionaries (122 MiB), not the
    planner, which the console's Plan page loads at its first plan, and without SMS
    credentials not twilio's REST client and requests under it (issue 21)."""
    code = ("import sys\n"
            "from ivr.app import create_app\n"
            f"create_app({{'DATABASE': {str(tmp_path / 'ivr.db')!r}, "
            "'SECRET_KEY': 'k' * 32, 'TWILIO_AUTH_TOKEN': 't'})\n"
            "import ivr.web.server\n"
            "print(sorted({m for m in sys.modules if m.split('.')[0] in ('jieba', 'pypinyin', "
            "'requests') or m.startswith(('ivr.plan', 'ivr.tuning', 'twilio.rest.api'))}))\n"
            "print('ivr.flow.mandarin' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=tmp_path).stdout.split()
    assert shown == ["[]", "True"]
