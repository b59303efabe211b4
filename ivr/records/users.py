"""The console's users and the agents' roster, in the database (table ``users``).

A user logs in to the console (``/ops/``) with a password kept as a salted scrypt hash
(Werkzeug's). Role ``ops`` sees everything; role ``agent`` sees its own queues only, and is
also in the agents' roster: it calls ``/agent/voice`` from its ``phone`` (caller ID), or
types its ``code`` and a PIN (kept as ``ivr.records.pins`` hashes it, like the callers' PINs), and
takes callers from its ``queues`` (its skills). No password or PIN is ever stored or logged.

A change made on someone's behalf (``ivr ops``: add, disable, enable, remove, a new
password or PIN) is given an ``actor`` and writes its audit row in the same transaction,
so the console's Audit page never misses one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from ivr.errors import close_match
from ivr.phone import E164
from ivr.records import pins
from ivr.records.database import Tx
from ivr.records.store import Store, audit_row, iso

ROLES = ("ops", "agent")
#: a name as typed at the log-in: letters, digits, dot, dash, underscore
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
CODE = re.compile(r"\d{4,8}")
AGENT_PIN = re.compile(r"\d{4,8}")
MIN_PASSWORD = 10
#: the password hash of an agent that never logs in: no password matches it
NO_LOGIN = "!"


@cache
def _nobody() -> str:
    """Checked against when the name is unknown, so a wrong name costs what a wrong password
    does; made at the first such log-in, not as every ``ivr`` command imports this module."""
    return generate_password_hash("not a password of anyone", method="scrypt")


class UserError(ValueError):
    """A user that cannot be added or changed as asked; the message says why."""


class LastOpsError(UserError):
    """The change would leave no ops user able to log in: nobody would see the ops pages
    (the Audit page among them) until someone with the server's shell adds one."""


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused (None when it is not): checked as it is typed."""
    if len(password) < MIN_PASSWORD:
        return f"the password must have at least {MIN_PASSWORD} characters"
    return None


def pin_problem(pin: str) -> str | None:
    """Why an agent's ``pin`` is refused (None when it is not)."""
    return None if AGENT_PIN.fullmatch(pin) else "the agent PIN must be 4 to 8 digits"


@dataclass(frozen=True, slots=True)
class User:
    """One console user; an agent also takes calls (see the module docstring)."""

    name: str
    role: str
    queues: tuple[str, ...] = ()
    phone: str | None = None
    code: str | None = None
    disabled: bool = False
    #: carried by its console session cookies, which are refused once it changes
    session_gen: int = 0

    @property
    def is_agent(self) -> bool:
        return self.role == "agent"

    def sees(self, queue: str | None) -> bool:
        """Whether the console shows this user what belongs to ``queue``."""
        return not self.is_agent or queue in self.queues


_COLUMNS = "name, role, queues, phone, code, disabled, session_gen"
#: bumps to a user's session generation (``session_gen``): log-out, disabling, a new password
_END_SESSIONS = "session_gen = session_gen + 1"


def _user(row: Sequence[Any]) -> User:
    name, role, queues, phone, code, disabled, session_gen = tuple(row)[:7]
    return User(str(name), str(role), tuple(str(queues).split()), phone, code, bool(disabled),
                int(session_gen))


def _no_user(name: str, names: list[str]) -> UserError:
    close = close_match(name, names, 0.6)
    return UserError(f"there is no user {name!r}" +
                     (f"; did you mean {close!r}?" if close else ""))


class Users:
    """The ``users`` table of ``store``."""

    def __init__(self, store: Store, pin_hash_n: int = pins.N) -> None:
        self.store, self.pin_hash_n = store, pin_hash_n

    @cached_property
    def _no_pin(self) -> str:
        """Checked against when the code is unknown: at the roster's cost, so an unknown code
        answers as slowly as a wrong PIN; made once."""
        return pins.hash_pin("not a PIN", self.pin_hash_n)

    def problems(self, name: str, role: str, *, queues: tuple[str, ...] = (),
                 known_queues: tuple[str, ...] | None = None, phone: str | None = None,
                 code: str | None = None) -> list[str]:
        """Every reason this user cannot be added that is known before a password is typed:
        ``ivr ops add-user`` asks for none when there is one."""
        problems = []
        if not NAME.fullmatch(name):
            problems.append(f"the name {name!r} must be 1 to 40 letters, digits, '.', '-' or "
                            "'_', starting with a letter or digit")
        elif self.get(name):
            problems.append(f"there is already a user {name!r}")
        if role not in ROLES:
            problems.append(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
        unknown = [q for q in queues if known_queues is not None and q not in known_queues]
        if unknown:
            problems.append(f"no such queue: {', '.join(unknown)} (the tree's queues are "
                            f"{', '.join(known_queues or ())})")
        if role == "agent":
            if not queues:
                problems.append("an agent needs the queues it takes calls from (--queues)")
            if phone is not None and not E164.fullmatch(phone):
                problems.append(f"the phone must be an E.164 number (+8613700000000), "
                                f"not {phone!r}")
            if code is not None and not CODE.fullmatch(code):
                problems.append("the agent code must be 4 to 8 digits")
            elif code and self.store.read_one("SELECT 1 FROM users WHERE code=?", (code,)):
                problems.append("another agent has that code")
            if phone is None and code is None:
                problems.append("an agent needs a phone (caller ID) or a code and PIN to be "
                                "known when it calls")
        elif queues or phone or code:
            problems.append("queues, phone, code and PIN are for agents (--role agent)")
        return problems

    def add(self, name: str, password: str | None, role: str, now: datetime, *,
            queues: tuple[str, ...] = (), known_queues: tuple[str, ...] | None = None,
            phone: str | None = None, code: str | None = None,
            pin: str | None = None, actor: str | None = None) -> User:
        """Keep a new user; raise UserError saying every reason it cannot be. An agent
        without a ``password`` takes calls but cannot log in to the console. With an
        ``actor``, the audit log says who added it."""
        problems = self.problems(name, role, queues=queues, known_queues=known_queues,
                                 phone=phone, code=code)
        if password is None:
            if role != "agent":
                problems.append("only an agent may have no password (it takes calls, never "
                                "logs in)")
        elif weak := password_problem(password):
            problems.append(weak)
        if role == "agent" and (code is None) != (pin is None):
            problems.append("an agent code and a PIN go together")
        if role == "agent" and pin is not None and (bad := pin_problem(pin)):
            problems.append(bad)
        if role != "agent" and pin and not (queues or phone or code):  # else said already
            problems.append("queues, phone, code and PIN are for agents (--role agent)")
        if problems:
            raise UserError("; ".join(problems))
        with self.store.tx("users") as db:
            # again, in the transaction: another ``ivr ops`` may have added it since
            if db.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise UserError(f"there is already a user {name!r}")
            if code and db.execute("SELECT 1 FROM users WHERE code=?", (code,)).fetchone():
                raise UserError("another agent has that code")
            # a random first generation: a user removed and added again under its name
            # does not get the cookies of the one before (2**30: room for bumps in 32 bits)
            session_gen = secrets.randbelow(2**30)
            db.execute(
                "INSERT INTO users (name, password_hash, role, queues, phone, code, pin_hash, "
                "created_at, session_gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, NO_LOGIN if password is None else
                 generate_password_hash(password, method="scrypt"), role,
                 " ".join(queues), phone, code,
                 pins.hash_pin(pin, self.pin_hash_n) if pin else None, iso(now), session_gen))
            if actor:
                audit_row(db, now, actor, "user added", f"user {name}",
                          " ".join(filter(None, (role, ",".join(queues)))))
        return User(name, role, tuple(queues), phone, code, session_gen=session_gen)

    # -- changes made by ``ivr ops``, each audited ------------------------------------------
    def set_disabled(self, name: str, disabled: bool, now: datetime, actor: str, *,
                     force: bool = False) -> User:
        """Disable a user (it cannot log in, its sessions end for good, as an agent it takes
        no calls) or enable it again. Disabling the last ops user who can log in raises
        LastOpsError unless ``force``; a user already so raises UserError."""
        with self.store.tx("users") as db:
            found = self._row(db, name)
            if found.disabled == disabled:
                raise UserError(f"{name} is already {'disabled' if disabled else 'enabled'}")
            if disabled and not force:
                self._keep_an_ops_user(db, found, "disable")
            db.execute(f"UPDATE users SET disabled=?{', ' + _END_SESSIONS if disabled else ''} "
                       "WHERE name=?", (int(disabled), name))
            audit_row(db, now, actor, "user disabled" if disabled else "user enabled",
                      f"user {name}", "")
        return replace(found, disabled=disabled)

    def remove(self, name: str, now: datetime, actor: str, *, force: bool = False) -> User:
        """Delete a user; its audit rows and the calls it took keep its name. The last ops
        user who can log in raises LastOpsError unless ``force``."""
        with self.store.tx("users") as db:
            found = self._row(db, name)
            if not force:
                self._keep_an_ops_user(db, found, "remove")
            db.execute("DELETE FROM users WHERE name=?", (name,))
            audit_row(db, now, actor, "user removed", f"user {name}", found.role)
        return found

    def set_password(self, name: str, password: str, now: datetime, actor: str) -> None:
        """A new console password for ``name``: the old one, and the sessions it opened, stop
        working at once."""
        problem = password_problem(password)
        if problem:
            raise UserError(problem)
        hashed = generate_password_hash(password, method="scrypt")
        with self.store.tx("users") as db:
            self._row(db, name)
            db.execute(f"UPDATE users SET password_hash=?, {_END_SESSIONS} WHERE name=?",
                       (hashed, name))
            audit_row(db, now, actor, "password reset", f"user {name}", "")

    def log_out(self, name: str, now: datetime) -> None:
        """End every console session of ``name`` (its log-out, in whichever browser), and
        audit it: a cookie saved before opens nothing after."""
        with self.store.tx("users") as db:
            db.execute(f"UPDATE users SET {_END_SESSIONS} WHERE name=?", (name,))
            audit_row(db, now, name, "log out", "", "")

    def set_pin(self, name: str, pin: str, now: datetime, actor: str) -> None:
        """A new PIN for an agent that types its code; UserError for anyone else."""
        problem = pin_problem(pin)
        if problem:
            raise UserError(problem)
        hashed = pins.hash_pin(pin, self.pin_hash_n)
        with self.store.tx("users") as db:
            if not self._row(db, name).code:
                raise UserError(f"{name} has no agent code, so no PIN: a PIN goes with a code")
            db.execute("UPDATE users SET pin_hash=? WHERE name=?", (hashed, name))
            audit_row(db, now, actor, "PIN reset", f"user {name}", "")

    def named(self, name: str) -> User:
        """User ``name``; UserError, naming the closest name, when there is none."""
        found = self.get(name)
        if found is None:
            raise _no_user(name, [u.name for u in self.all()])
        return found

    def _row(self, db: Tx, name: str) -> User:
        """User ``name`` read in ``db``, as ``named``."""
        row = db.execute(f"SELECT {_COLUMNS} FROM users WHERE name=?", (name,)).fetchone()
        if row is None:
            raise _no_user(name, [r["name"] for r in db.execute("SELECT name FROM users")])
        return _user(row)

    @staticmethod
    def _keep_an_ops_user(db: Tx, found: User, verb: str) -> None:
        if found.role != "ops" or found.disabled:
            return
        others = db.execute("SELECT COUNT(*) FROM users WHERE role='ops' AND disabled=0 "
                            "AND name<>?", (found.name,)).fetchone()[0]
        if not others:
            raise LastOpsError(f"{found.name} is the last ops user who can log in: nobody "
                               f"would see the ops pages; add another before you {verb} it")

    def get(self, name: str) -> User | None:
        row = self.store.read_one(f"SELECT {_COLUMNS} FROM users WHERE name=?", (name,))
        return _user(row) if row else None

    def all(self) -> list[User]:
        return [_user(r) for r in self.store.read_all(f"SELECT {_COLUMNS} FROM users "
                                                      "ORDER BY role, name")]

    def check_password(self, name: str, password: str) -> User | None:
        """The user whose name and password these are (not disabled), else None; an
        unknown name costs the same hash as a wrong password."""
        row = self.store.read_one(f"SELECT {_COLUMNS}, password_hash FROM users WHERE name=?",
                                  (name,))
        stored = row["password_hash"] if row else _nobody()
        right = check_password_hash(stored, password)
        if row is None or not right or row["disabled"]:
            return None
        return _user(row)

    def agent_by_phone(self, phone: str) -> User | None:
        row = self.store.read_one(f"SELECT {_COLUMNS} FROM users WHERE role='agent' AND "
                                  "phone=? AND disabled=0", (phone,))
        return _user(row) if row else None

    def agent_by_code(self, code: str, pin: str) -> User | None:
        """The agent whose code and PIN these are, else None (the PIN is always hashed)."""
        row = self.store.read_one(f"SELECT {_COLUMNS}, pin_hash FROM users WHERE role='agent' "
                                  "AND code=? AND disabled=0", (code,))
        stored = row["pin_hash"] if row and row["pin_hash"] else self._no_pin
        right = pins.check_pin(pin, stored)
        return _user(row) if row and right else None


#: the demo's agent (``seed_demo_agent``): its phone, and its code and PIN by keypad
DEMO_AGENT = "demo-agent"
DEMO_AGENT_PHONE = "+8613900139000"
DEMO_AGENT_CODE, DEMO_AGENT_PIN = "1001", "2580"


def seed_demo_agent(users: Users, queues: tuple[str, ...], now: datetime) -> None:
    """Put the demo's agent in the roster (once): it takes every queue of the tree, and has
    no console log-in (no password to hash for each sandbox the simulator builds)."""
    if users.get(DEMO_AGENT) is None:
        users.add(DEMO_AGENT, None, "agent", now, queues=queues, phone=DEMO_AGENT_PHONE,
                  code=DEMO_AGENT_CODE, pin=DEMO_AGENT_PIN)
