"""``ivr ops`` managing the console's users: disable, enable, remove, reset-password, unlock,
add-user's checks before any password, the users table; each change seen where it
matters: a log-in through the real console, the agents' roster, the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ivr.cli import cli

pytestmark = pytest.mark.both_backends

PASSWORD, NEW_PASSWORD = "correct horse battery", "tr0ub4dor and more"
SECRET = "test-secret"  # the app's (conftest's settings), so the CLI reads the same locks
ACTOR = "support (ivr ops)"  # LOGNAME=support: getpass's first source


@pytest.fixture(name="ops")
def _ops(runner, database):
    """``ivr ops ...`` on the test's database, as the system account ``support``."""
    def run(*args: str, input: str | None = None):
        return runner.invoke(cli, ["ops", *args, "--db", database], input=input,
                             env={"IVR_SECRET_KEY": SECRET, "LOGNAME": "support"})
    return run


@pytest.fixture(name="people")
def _people(app, ops):
    """Two ops users and an agent known by code 4321 (PIN 135790), added by ``ivr ops``."""
    twice = f"{PASSWORD}\n{PASSWORD}\n"
    for args, answers in ((["lead"], twice), (["zhou"], twice),
                          (["wang", "--role", "agent", "--queues", "payments,general",
                            "--code", "4321"], twice + "135790\n135790\n")):
        result = ops("add-user", *args, input=answers)
        assert result.exit_code == 0, result.output
    return app.extensions["ivr"].users


def token(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1).decode()


def answer(client, name, password=PASSWORD, address="127.0.0.1"):
    """The log-in form posted as a browser at ``address`` does: the response."""
    page = client.get("/ops/login", environ_base={"REMOTE_ADDR": address}).data
    return client.post("/ops/login", data={"name": name, "password": password,
                                           "csrf_token": token(page)},
                       environ_base={"REMOTE_ADDR": address})


def log_in(client, name, password=PASSWORD, address="127.0.0.1"):
    """Whether the log-in got in."""
    response = answer(client, name, password, address)
    return response.status_code == 302 and response.location == "/ops/"


def throttled(app, name, address):
    """Whether the right password is refused for too many failed log-ins."""
    return b"Too many failed log-ins" in answer(app.test_client(), name, address=address).data


def audit(app):
    return [tuple(r) for r in app.extensions["ivr"].store.read_all(
        "SELECT actor, action, target, detail FROM audit_log WHERE action NOT IN "
        "('log in', 'log out') ORDER BY id")]


def one_error(result, *says: str) -> str:
    assert result.exit_code == 1, result.output
    line, = result.output.splitlines()
    assert line.startswith("Error: ") and all(s in line for s in says), line
    return line


def states(ops) -> dict[str, str]:
    """``ivr ops users``'s STATE column, by name."""
    header, *rows = ops("users").output.splitlines()
    at = header.index("STATE")
    return {row.split()[0]: row[at:] for row in rows}


# -- disable, enable ---------------------------------------------------------------------
def test_a_disabled_user_cannot_log_in_and_its_session_ends(app, client, people, ops):
    assert log_in(client, "zhou") and client.get("/ops/").status_code == 200
    result = ops("disable", "zhou")
    assert result.exit_code == 0 and result.output == "disabled zhou\n"
    assert client.get("/ops/").location == "/ops/login"  # the open session, at its next page
    assert not log_in(app.test_client(), "zhou")
    assert states(ops)["zhou"] == "disabled"
    one_error(ops("disable", "zhou"), "zhou is already disabled")

    assert ops("enable", "zhou").output == "enabled zhou\n"
    assert log_in(client, "zhou")
    one_error(ops("enable", "zhou"), "zhou is already enabled")
    assert audit(app)[-2:] == [(ACTOR, "user disabled", "user zhou", ""),
                               (ACTOR, "user enabled", "user zhou", "")]


def test_a_disabled_agent_takes_no_calls(people, ops):
    assert people.agent_by_code("4321", "135790") is not None
    assert ops("disable", "wang").exit_code == 0
    assert people.agent_by_code("4321", "135790") is None


def test_the_last_ops_user_is_kept_unless_forced(app, people, ops):
    assert ops("disable", "zhou").exit_code == 0
    line = one_error(ops("disable", "lead"), "lead is the last ops user who can log in",
                     "--force")
    assert one_error(ops("remove", "lead"), "--force") != line  # says remove
    assert states(ops)["lead"] == "active"
    assert ops("remove", "lead", "--force").output == "removed ops lead\n"
    assert people.get("lead") is None
    assert audit(app)[-1] == (ACTOR, "user removed", "user lead", "ops")


# -- remove, unknown names -----------------------------------------------------------------
def test_remove_and_unknown_names(app, people, ops):
    assert ops("remove", "wang").output == "removed agent wang\n"
    assert people.get("wang") is None and people.agent_by_code("4321", "135790") is None
    assert not log_in(app.test_client(), "wang")
    one_error(ops("remove", "wang"), "there is no user 'wang'")
    for command in (["remove", "laed"], ["disable", "laed"], ["enable", "laed"],
                    ["unlock", "laed"], ["reset-password", "laed"]):
        one_error(ops(*command), "there is no user 'laed'; did you mean 'lead'?")
    assert ops("remove", "qqqqqqq").output == "Error: there is no user 'qqqqqqq'\n"
    assert [row[1] for row in audit(app)].count("user removed") == 1


# -- reset-password ------------------------------------------------------------------------
def test_reset_password_the_old_fails_the_new_works(app, people, ops):
    result = ops("reset-password", "zhou", input=f"short\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "the password must have at least 10 characters" in result.output  # asked again
    assert result.output.splitlines()[-1] == "new password kept for zhou"
    assert NEW_PASSWORD not in result.output
    assert not log_in(app.test_client(), "zhou")
    assert log_in(app.test_client(), "zhou", NEW_PASSWORD)
    assert audit(app)[-1] == (ACTOR, "password reset", "user zhou", "")


def test_reset_pin_of_an_agent(app, people, ops):
    result = ops("reset-password", "wang", "--pin", input="2468\n2468\n")
    assert result.exit_code == 0 and result.output.endswith("new PIN kept for wang\n")
    assert people.agent_by_code("4321", "135790") is None
    assert people.agent_by_code("4321", "2468") is not None
    assert log_in(app.test_client(), "wang")  # the password is untouched
    assert audit(app)[-1] == (ACTOR, "PIN reset", "user wang", "")
    # refused before a PIN is asked: no input given, none read
    one_error(ops("reset-password", "lead", "--pin"), "lead has no agent code")


# -- unlock --------------------------------------------------------------------------------
def test_unlock_lets_the_right_password_in_after_the_lock(app, people, ops):
    for _ in range(5):
        assert not log_in(app.test_client(), "zhou", "wrong password!", address="10.0.0.1")
    for n in range(20):  # a guesser at another address, trying 20 names
        assert not log_in(app.test_client(), f"mallory{n}", "wrong password!", address="10.0.0.2")
    assert throttled(app, "zhou", "10.0.0.1")
    assert states(ops)["zhou"] == "locked"

    result = ops("unlock", "zhou")
    assert result.output == "unlocked zhou: 5 failed log-ins forgotten\n", result.output
    assert states(ops)["zhou"] == "active"
    assert log_in(app.test_client(), "zhou", address="10.0.0.1")
    assert throttled(app, "lead", "10.0.0.2")  # the guesser's address keeps its failures
    assert audit(app)[-1] == (ACTOR, "user unlocked", "user zhou", "5 failed log-ins forgotten")
    one_error(ops("unlock", "zhou"), "nothing to unlock", "IVR_SECRET_KEY")


def test_unlock_lifts_an_agent_codes_pin_lock(app, people, ops):
    lockouts, now = app.extensions["ivr"].lockouts, datetime.now(UTC)
    for _ in range(5):
        lockouts.record_failure("agent:4321", now, "+8613700000009")
    assert lockouts.locked("agent:4321", "", now) is not None
    assert states(ops)["wang"] == "PIN locked"
    result = ops("unlock", "wang")
    assert result.output == "unlocked wang: the agent code's PIN lock lifted\n", result.output
    assert lockouts.locked("agent:4321", "", now) is None
    assert audit(app)[-1] == (ACTOR, "user unlocked", "user wang",
                              "the agent code's PIN lock lifted")


# -- add-user and users --------------------------------------------------------------------
@pytest.mark.parametrize(("args", "says"), [
    (["lead"], "there is already a user 'lead'"),
    (["li", "--role", "agent", "--queues", "card", "--phone", "+8613900000003"],
     "no such queue: card"),
    (["li", "--role", "agent", "--queues", "general", "--phone", "13900000003"],
     "the phone must be an E.164 number"),
    (["li", "--role", "agent", "--queues", "general", "--code", "12"],
     "the agent code must be 4 to 8 digits"),
    (["li", "--role", "agent", "--queues", "general", "--code", "4321"],
     "another agent has that code"),
    (["li", "--phone", "+8613900000003"], "queues, phone, code and PIN are for agents"),
])
def test_add_user_checks_everything_before_asking_for_a_password(people, ops, args, says):
    result = ops("add-user", *args)  # no input: a prompt would abort, not say this
    assert result.exit_code == 1, result.output
    assert "Password" not in result.output
    assert result.output.splitlines()[0] == "Error: cannot add the user:"
    assert any(says in line for line in result.output.splitlines()[1:]), result.output


def test_add_user_help_names_real_queues(app, ops):
    example = re.search(r"comma-separated \(its skills\): ([\w,-]+)\.",
                        " ".join(ops("add-user", "--help").output.split())).group(1)
    result = ops("add-user", "li", "--role", "agent", "--queues", example, "--phone",
                 "+8613900000003", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert app.extensions["ivr"].users.get("li").queues == tuple(example.split(","))


def test_users_is_a_table_with_a_state(people, ops):
    assert ops("disable", "zhou").exit_code == 0
    lines = ops("users").output.splitlines()
    assert [line.split() for line in lines] == [
        ["NAME", "ROLE", "QUEUES", "KNOWN", "BY", "STATE"],
        ["wang", "agent", "payments,general", "code", "4321", "active"],
        ["lead", "ops", "-", "-", "active"],
        ["zhou", "ops", "-", "-", "disabled"]]
    for column in ("ROLE", "QUEUES", "KNOWN BY", "STATE"):  # aligned under the header
        at = lines[0].index(column)
        assert all(line[at - 2:at] == "  " and line[at] != " " for line in lines[1:]), column
    assert "scrypt" not in "".join(lines)


def test_users_without_the_secret_key_on_postgresql_lists_no_locks(runner, database, backend,
                                                                    people, ops):
    assert ops("disable", "zhou").exit_code == 0
    result = runner.invoke(cli, ["ops", "users", "--db", database], env={"IVR_SECRET_KEY": None})
    assert result.exit_code == 0, result.output
    *table, note = result.output.splitlines()
    # on SQLite too: no key is kept beside it (the app's was given), and another one would
    # show a locked user as active
    assert note == "(locks not shown: give this command the server's IVR_SECRET_KEY)"
    assert [row.split()[-1] for row in table] == ["STATE", "active", "active", "disabled"]


def test_users_of_an_empty_database(app, ops):
    assert ops("users").output == "no users yet: add one with ivr ops add-user NAME\n"


def test_the_audit_page_lists_the_changes(app, client, people, ops):
    assert ops("disable", "zhou").exit_code == 0
    assert log_in(client, "lead")
    page = client.get("/ops/audit").data.decode()
    for says in (ACTOR, "user added", "user disabled", "user zhou"):
        assert says in page, says
