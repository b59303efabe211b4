"""``ivr ops``: the console's users: add one (every mistake found before a password is
asked), list them, disable, enable, remove, give a new password or PIN, lift a lock.

Each change is written to the console's audit log, its actor the system account that ran
the command (``root (ivr ops)``), so the Audit page lists it beside the console's own.
A change that does nothing (disabling a disabled user) is an error, as an unknown name is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ivr.cli.args import (
    Database,
    app_logs_quiet,
    app_settings,
    boundary,
    database_problem,
    system_actor,
)
from ivr.plural import aligned, counted

if TYPE_CHECKING:
    from ivr.records.lockouts import StoreLockouts
    from ivr.records.users import User, Users


DB_HELP = ("The database: a SQLite file or a postgresql:// URL (default: the app's, from "
           "IVR_DATABASE or the instance).")
FORCE_HELP = "Even the last ops user who can log in (nobody would see the ops pages)."


@contextmanager
def _users(settings: dict[str, Any], create: bool = False) -> Iterator[Users]:
    """The ``Users`` of the database of the app's ``settings``; the database closed after
    (a PostgreSQL pool too). Unless ``create``, a database that is not there is an error,
    not a new file: a command about a user it cannot find leaves nothing behind."""
    from ivr.records.store import Store
    from ivr.records.users import Users as Table

    location = str(settings["DATABASE"])
    # an existing file is checked either way: another application's is named, not changed
    problem = None if create and not Path(location).exists() else database_problem(location)
    if problem:
        raise click.ClickException(problem)
    with boundary():
        store = Store(str(settings["DATABASE"]), state_ttl_s=settings["STATE_TTL_S"],
                      pool_size=1)
    try:
        yield Table(store, settings["PIN_HASH_N"])
    finally:
        store.close()


def _queues(settings: dict[str, Any]) -> tuple[str, ...]:
    """The queues the app's trees (the A/B trial's too) send callers to."""
    from ivr.menu import load

    trees = [settings.get("MENU"), *([settings["MENU_B"]] if settings.get("MENU_B") else [])]
    with boundary():
        return tuple(dict.fromkeys(q for tree in trees for q in load(tree)[0].queues))


@contextmanager
def _refused() -> Iterator[None]:
    """A change refused (an unknown name, a no-op, the last ops user): one line, exit 1."""
    from ivr.records.users import LastOpsError, UserError

    try:
        yield
    except LastOpsError as exc:
        raise click.ClickException(f"{exc} (or give --force)") from exc
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc


def _actor() -> str:
    """Who the audit log says made the change: the system account running ``ivr ops``."""
    return system_actor("ivr ops")


def _secret(label: str, problem: Callable[[str], str | None]) -> str:
    """A password or PIN typed twice, hidden; asked again while ``problem`` finds one."""
    def checked(value: str) -> str:
        why = problem(value)
        if why:
            raise click.UsageError(why)
        return value

    return str(click.prompt(label, hide_input=True, confirmation_prompt=True,
                            value_proc=checked))


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(q.strip() for q in (text or "").split(",") if q.strip())


def _db_option(create: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--db", "--database", "database", type=Database(create=create),
                        help=DB_HELP)


@click.group("ops")
def ops_group() -> None:
    """The ops console's users: add, list, disable, enable, remove, reset-password, unlock."""


@ops_group.command("add-user")
@click.argument("name")
@click.option("--role", type=click.Choice(["ops", "agent"]), default="ops", show_default=True)
@click.option("--queues", help="An agent's queues, comma-separated (its skills): "
                               "payments,general.")
@click.option("--phone", help="An agent's phone (caller ID when it calls /agent/voice), E.164.")
@click.option("--code", help="An agent's code, typed with a PIN when it calls from elsewhere "
                             "(the PIN is asked for).")
@_db_option(create=True)
def add_user(name: str, role: str, queues: str | None, phone: str | None, code: str | None,
             database: Path | str | None) -> None:
    """Add a console user; the password (10 characters or more) is asked for twice, once
    the rest is known to be right."""
    from ivr.records.users import UserError, password_problem, pin_problem

    settings = app_settings(database)
    with _users(settings, create=True) as users:
        skills, known = _names(queues), _queues(settings)
        try:
            problems = users.problems(name, role, queues=skills, known_queues=known,
                                      phone=phone, code=code)
            if problems:
                raise UserError("; ".join(problems))
            password = _secret("Password", password_problem)
            pin = _secret("Agent PIN (4 to 8 digits)", pin_problem) if code else None
            user = users.add(name, password, role, datetime.now(UTC), queues=skills,
                             known_queues=known, phone=phone, code=code, pin=pin,
                             actor=_actor())
        except UserError as exc:  # every mistake, one a line
            raise click.ClickException("cannot add the user:\n  " +
                                       "\n  ".join(str(exc).split("; "))) from exc
    click.echo(f"added {user.role} {user.name}"
               + (f" (queues {', '.join(user.queues)})" if user.queues else ""))


@ops_group.command("users")
@_db_option(create=False)
def list_users(database: Path | str | None) -> None:
    """List the console's users: name, role, queues, how an agent is known, and whether it
    is disabled or locked (no hashes). The locks are read with the server's SECRET_KEY."""
    try:
        settings, secret = app_settings(database, secret=True), True
    except click.ClickException:  # PostgreSQL and no SECRET_KEY here: list, locks unknown
        settings, secret = app_settings(database), False
    with _users(settings, create=True) as users:
        found = users.all()
        states = _states(users, found, str(settings["SECRET_KEY"]) if secret else None,
                         datetime.now(UTC))
    if not found:
        click.echo("no users yet: add one with ivr ops add-user NAME")
        return
    table = [("NAME", "ROLE", "QUEUES", "KNOWN BY", "STATE")]
    for user in found:
        known = " ".join(filter(None, (f"phone …{user.phone[-4:]}" if user.phone else "",
                                       f"code {user.code}" if user.code else "")))
        table.append((user.name, user.role, ",".join(user.queues) or "-", known or "-",
                      ", ".join(states[user.name]) or "active"))
    for line in aligned(table):
        click.echo(line)
    if not secret:
        click.echo("(locks not shown: give this command the server's IVR_SECRET_KEY)", err=True)


def _states(users: Users, found: list[User], secret: str | None,
            now: datetime) -> dict[str, list[str]]:
    """Per user: disabled; locked (the console refuses its name after failed log-ins);
    PIN locked (its agent code, after wrong PINs). The locks only with the ``secret``."""
    from ivr.console import throttle
    from ivr.records.lockouts import StoreLockouts

    if secret is None:
        return {u.name: ["disabled"] if u.disabled else [] for u in found}
    key, book = throttle.derived_key(secret, "throttle_key"), StoreLockouts(users.store, secret)
    failed = throttle.failures(users.store, now)
    return {u.name: [state for state, on in (
        ("disabled", u.disabled),
        ("locked", failed.get(throttle.name_key(key, u.name), 0) >= throttle.NAME_FREE),
        ("PIN locked", bool(u.code) and _pin_locked(book, str(u.code), now))) if on]
        for u in found}


def _pin_locked(book: StoreLockouts, code: str, now: datetime) -> bool:
    """Whether the lockout book refuses this agent code's PINs (the code's own lock; the
    callers' "anonymous" line may be locked too, which is no lock of the agent's)."""
    lock = book.locked(f"agent:{code}", "", now)
    return lock is not None and not lock.by_caller


@ops_group.command("disable")
@click.argument("name")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@_db_option(create=False)
def disable(name: str, force: bool, database: Path | str | None) -> None:
    """Disable a user: it cannot log in, its open sessions end for good, and an agent
    takes no calls. Kept, with its audit rows: ivr ops enable brings it back."""
    with _users(app_settings(database)) as users, _refused():
        users.set_disabled(name, True, datetime.now(UTC), _actor(), force=force)
    click.echo(f"disabled {name}")


@ops_group.command("enable")
@click.argument("name")
@_db_option(create=False)
def enable(name: str, database: Path | str | None) -> None:
    """Enable a disabled user again, with the password it had."""
    with _users(app_settings(database)) as users, _refused():
        users.set_disabled(name, False, datetime.now(UTC), _actor())
    click.echo(f"enabled {name}")


@ops_group.command("remove")
@click.argument("name")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@_db_option(create=False)
def remove(name: str, force: bool, database: Path | str | None) -> None:
    """Remove a user for good (the audit log and the calls it took keep its name); ivr ops
    disable keeps it instead."""
    with _users(app_settings(database)) as users, _refused():
        user = users.remove(name, datetime.now(UTC), _actor(), force=force)
    click.echo(f"removed {user.role} {name}")


@ops_group.command("reset-password")
@click.argument("name")
@click.option("--pin", is_flag=True, help="An agent's new PIN (typed after its code) instead.")
@_db_option(create=False)
def reset_password(name: str, pin: bool, database: Path | str | None) -> None:
    """Give a user a new password (10 characters or more), asked twice, hidden; the old
    one, and the sessions it opened, stop working. With --pin, an agent's new PIN (4 to 8
    digits) instead."""
    from ivr.records.users import password_problem, pin_problem

    with _users(app_settings(database)) as users, _refused():
        user = users.named(name)  # before anything is asked
        if pin and not user.code:
            raise click.ClickException(f"{name} has no agent code, so no PIN to reset")
        if pin:
            users.set_pin(name, _secret("New agent PIN (4 to 8 digits)", pin_problem),
                          datetime.now(UTC), _actor())
        else:
            users.set_password(name, _secret("New password", password_problem),
                               datetime.now(UTC), _actor())
    click.echo(f"new {'PIN' if pin else 'password'} kept for {name}"
               + (f" (still disabled: ivr ops enable {name})" if user.disabled else ""))


@ops_group.command("unlock")
@click.argument("name")
@_db_option(create=False)
def unlock(name: str, database: Path | str | None) -> None:
    """Lift what refuses a user after failed tries: the console's log-in throttle (the name's
    failed log-ins from any address, and the same log-ins counted against their address and
    the name at that address) and, for an agent
    with a code, the code's lock after wrong PINs. The locks are kept by keyed hashes:
    give this command the server's SECRET_KEY (IVR_SECRET_KEY, or the instance's)."""
    from ivr.console import throttle
    from ivr.records.lockouts import StoreLockouts

    settings = app_settings(database, secret=True)
    with _users(settings) as users, _refused():
        user, now, secret = users.named(name), datetime.now(UTC), str(settings["SECRET_KEY"])
        book, also = StoreLockouts(users.store, secret), ""
        if user.code and _pin_locked(book, user.code, now):
            with app_logs_quiet():  # its warning speaks of an account; the audit row says it
                book.unlock(f"agent:{user.code}", now)
            also = "the agent code's PIN lock lifted"
        key = throttle.name_key(throttle.derived_key(secret, "throttle_key"), name)
        forgotten = throttle.unlock(users.store, key, now, _actor(), f"user {name}", also)
    if not (forgotten or also):
        minutes = int(throttle.WINDOW.total_seconds()) // 60
        raise click.ClickException(
            f"nothing to unlock: no failed log-ins of {name} in the last {minutes} minutes"
            + (" and no PIN lock" if user.code else "")
            + " (if the server has its own IVR_SECRET_KEY, give this command the same)")
    lifted = [f"{counted(forgotten, 'failed log-in')} forgotten" if forgotten else "", also]
    click.echo(f"unlocked {name}: " + "; ".join(filter(None, lifted)))
