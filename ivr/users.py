"""The console's users and the agents' roster, in the database (table ``users``).

A user logs in to the console (``/ops/``) with a password kept as a salted scrypt hash
(Werkzeug's). Role ``ops`` sees everything; role ``agent`` sees its own queues only, and is
also in the agents' roster: it calls ``/agent/voice`` from its ``phone`` (caller ID), or
types its ``code`` and a PIN (kept as ``ivr.pins`` hashes it, like the callers' PINs), and
takes callers from its ``queues`` (its skills). No password or PIN is ever stored or logged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from ivr import pins
from ivr.phone import E164
from ivr.store import Store, iso

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
    """A user that cannot be added as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class User:
    """One console user; an agent also takes calls (see the module docstring)."""

    name: str
    role: str
    queues: tuple[str, ...] = ()
    phone: str | None = None
    code: str | None = None
    disabled: bool = False

    @property
    def is_agent(self) -> bool:
        return self.role == "agent"

    def sees(self, queue: str | None) -> bool:
        """Whether the console shows this user what belongs to ``queue``."""
        return not self.is_agent or queue in self.queues


_COLUMNS = "name, role, queues, phone, code, disabled"


def _user(row: Sequence[Any]) -> User:
    name, role, queues, phone, code, disabled = tuple(row)[:6]
    return User(str(name), str(role), tuple(str(queues).split()), phone, code, bool(disabled))


class Users:
    """The ``users`` table of ``store``."""

    def __init__(self, store: Store, pin_hash_n: int = pins.N) -> None:
        self.store, self.pin_hash_n = store, pin_hash_n

    @cached_property
    def _no_pin(self) -> str:
        """Checked against when the code is unknown: at the roster's cost, so an unknown code
        answers as slowly as a wrong PIN; made once."""
        return pins.hash_pin("not a PIN", self.pin_hash_n)

    def add(self, name: str, password: str | None, role: str, now: datetime, *,
            queues: tuple[str, ...] = (), known_queues: tuple[str, ...] | None = None,
            phone: str | None = None, code: str | None = None,
            pin: str | None = None) -> User:
        """Keep a new user; raise UserError saying every reason it cannot be. An agent
        without a ``password`` takes calls but cannot log in to the console."""
        problems = []
        if not NAME.fullmatch(name):
            problems.append(f"the name {name!r} must be 1 to 40 letters, digits, '.', '-' or "
                            "'_', starting with a letter or digit")
        if role not in ROLES:
            problems.append(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
        if password is None:
            if role != "agent":
                problems.append("only an agent may have no password (it takes calls, never "
                                "logs in)")
        elif len(password) < MIN_PASSWORD:
            problems.append(f"the password must have at least {MIN_PASSWORD} characters")
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
            if (code is None) != (pin is None):
                problems.append("an agent code and a PIN go together")
            if pin is not None and not AGENT_PIN.fullmatch(pin):
                problems.append("the agent PIN must be 4 to 8 digits")
            if phone is None and code is None:
                problems.append("an agent needs a phone (caller ID) or a code and PIN to be "
                                "known when it calls")
        elif queues or phone or code or pin:
            problems.append("queues, phone, code and PIN are for agents (--role agent)")
        if problems:
            raise UserError("; ".join(problems))
        with self.store.tx("users") as db:
            if db.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise UserError(f"there is already a user {name!r}")
            if code and db.execute("SELECT 1 FROM users WHERE code=?", (code,)).fetchone():
                raise UserError("another agent has that code")
            db.execute(
                "INSERT INTO users (name, password_hash, role, queues, phone, code, pin_hash, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, NO_LOGIN if password is None else
                 generate_password_hash(password, method="scrypt"), role,
                 " ".join(queues), phone, code,
                 pins.hash_pin(pin, self.pin_hash_n) if pin else None, iso(now)))
        return User(name, role, tuple(queues), phone, code)

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
