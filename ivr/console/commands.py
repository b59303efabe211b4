"""``ivr ops``: the console's users: add one (the password asked twice, hidden), list them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ivr.cliargs import Database, app_settings, boundary

if TYPE_CHECKING:
    from ivr.users import Users


DB_HELP = ("The database: a SQLite file or a postgresql:// URL (default: the app's, from "
           "IVR_DATABASE or the instance).")


@contextmanager
def _users(database: Path | str | None) -> Iterator[tuple[Users, tuple[str, ...]]]:
    """The ``Users`` of the app's database and the queues its trees send callers to; the
    database closed after (a PostgreSQL pool too)."""
    from ivr.menu import load
    from ivr.store import Store
    from ivr.users import Users as Table

    settings = app_settings(database)
    trees = [settings.get("MENU"), *([settings["MENU_B"]] if settings.get("MENU_B") else [])]
    with boundary():
        queues = tuple(dict.fromkeys(q for tree in trees for q in load(tree)[0].queues))
        store = Store(str(settings["DATABASE"]), state_ttl_s=settings["STATE_TTL_S"],
                      pool_size=1)
    try:
        yield Table(store, settings["PIN_HASH_N"]), queues
    finally:
        store.close()


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(q.strip() for q in (text or "").split(",") if q.strip())


@click.group("ops")
def ops_group() -> None:
    """The ops console's users."""


@ops_group.command("add-user")
@click.argument("name")
@click.option("--role", type=click.Choice(["ops", "agent"]), default="ops", show_default=True)
@click.option("--queues", help="An agent's queues, comma-separated (its skills): card,general.")
@click.option("--phone", help="An agent's phone (caller ID when it calls /agent/voice), E.164.")
@click.option("--code", help="An agent's code, typed with a PIN when it calls from elsewhere "
                             "(the PIN is asked for).")
@click.option("--db", "--database", "database", type=Database(create=True), help=DB_HELP)
def add_user(name: str, role: str, queues: str | None, phone: str | None, code: str | None,
             database: Path | str | None) -> None:
    """Add a console user; the password (10 characters or more) is asked for twice."""
    from ivr.users import UserError

    with _users(database) as (users, known):
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        pin = (click.prompt("Agent PIN (4 to 8 digits)", hide_input=True,
                            confirmation_prompt=True) if code else None)
        try:
            user = users.add(name, password, role, datetime.now(UTC),
                             queues=_names(queues), known_queues=known, phone=phone,
                             code=code, pin=pin)
        except UserError as exc:
            raise click.ClickException("cannot add the user:\n  " +
                                       "\n  ".join(str(exc).split("; "))) from exc
    click.echo(f"added {user.role} {user.name}"
               + (f" (queues {', '.join(user.queues)})" if user.queues else ""))


@ops_group.command("users")
@click.option("--db", "--database", "database", type=Database(create=False), help=DB_HELP)
def list_users(database: Path | str | None) -> None:
    """List the console's users: name, role, queues, how an agent is known (no hashes)."""
    with _users(database) as (users, _):
        found = users.all()
    if not found:
        click.echo("no users yet: add one with ivr ops add-user NAME")
    for user in found:
        known = " ".join(filter(None, (f"phone …{user.phone[-4:]}" if user.phone else "",
                                       f"code {user.code}" if user.code else "")))
        click.echo("  ".join(filter(None, (user.name, user.role, ",".join(user.queues), known,
                                           "disabled" if user.disabled else ""))))
