"""The demo wallet backend, in the store (either database).

A production deployment replaces ``StoreWallet`` with a client of the real wallet;
the call flow only sees the ``ivr.flow.caller.Wallet`` protocol.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ivr.flow.services import Ticket, Topup, mask
from ivr.records import complaints, pins
from ivr.records.store import Store, iso, parse_iso

log = logging.getLogger(__name__)

DEMO_ACCOUNTS = (
    # number, PIN, phone, state
    ("10000001", "246810", "+8613800138000", "active"),
    ("10000002", "135790", "+8613900139000", "frozen"),
    ("10000003", "112233", "+14155550123", "active"),
)


class StoreWallet:
    """Accounts, transactions and complaint tickets in the embedded database."""

    def __init__(self, store: Store, pin_cost: int = pins.N) -> None:
        self.store, self.pin_cost = store, pin_cost
        # checked for unknown accounts, so they cost the same time as known ones
        self._dummy_hash = pins.hash_pin("000000", pin_cost)

    def account_for_phone(self, phone: str) -> str | None:
        if not phone:
            return None
        row = self.store.read_one("SELECT number FROM accounts WHERE phone=? ORDER BY number",
                                    (phone,))
        return str(row["number"]) if row else None

    def status(self, account: str) -> str | None:
        row = self.store.read_one("SELECT status FROM accounts WHERE number=?",
                                    (account,))
        return str(row["status"]) if row else None

    def check_pin(self, account: str, pin: str) -> bool:
        row = self.store.read_one("SELECT pin_hash FROM accounts WHERE number=?",
                                    (account,))
        if row is None:
            pins.check_pin(pin, self._dummy_hash)  # same time whether or not it exists
            return False
        return pins.check_pin(pin, row["pin_hash"])

    def recent_topups(self, account: str, since: datetime) -> list[Topup]:
        rows = self.store.read_all(
            "SELECT amount, status, created_at FROM transactions "
            "WHERE account=? AND kind='topup' AND created_at>=? ORDER BY created_at",
            (account, iso(since)))
        return [Topup(Decimal(r["amount"]), parse_iso(r["created_at"]), r["status"]) for r in rows]

    def freeze(self, account: str) -> bool:
        with self.store.tx() as db:
            changed = db.execute("UPDATE accounts SET status='frozen' "
                                 "WHERE number=? AND status!='frozen'", (account,)).rowcount
        log.warning("account %s frozen by the caller", mask(account))
        return bool(changed)

    def file_complaint(self, account: str | None, call_sid: str, recording_url: str,
                       details: dict[str, Any], now: datetime, *, team: str,
                       reply_hours: float = 48) -> Ticket:
        """One ticket per call: a replayed request gets the call's ticket, not a new one.
        ``team`` is the queue whose agents answer it, whatever queue the call ends in;
        the reply is due ``reply_hours`` later, the hours the caller is told."""
        reply_by = now + timedelta(hours=reply_hours)
        with self.store.tx(f"ticket:{call_sid}", "tickets") as db:
            filed = db.execute("SELECT number, status, reply_by FROM tickets WHERE call_sid=?",
                               (call_sid,)).fetchone()
            if filed:
                return Ticket(filed["number"], filed["status"], parse_iso(filed["reply_by"]))
            while True:
                number = f"{secrets.randbelow(10**8):08d}"
                if not db.execute("SELECT 1 FROM tickets WHERE number=?", (number,)).fetchone():
                    break
            db.execute("INSERT INTO tickets (number, account, call_sid, recording_url, details, "
                       "status, created_at, reply_by, team, stage_at) "
                       "VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)",
                       (number, account, call_sid, recording_url, json.dumps(details),
                        iso(now), iso(reply_by), team, iso(now)))
        return Ticket(number, "open", reply_by)

    def complete_recording(self, call_sid: str, recording_sid: str, recording_url: str,
                           duration_s: int | None, status: str) -> bool:
        """Complete the call's ticket with its recording as Twilio processed it: the URL
        now fetchable and the length after trimming (``completed``), or that there is no
        audio (``absent``, ``failed``). Only the recording the ticket was filed with (its
        RecordingSid ends the URL): another one of the call, or a replay, changes nothing.
        False when no ticket of the call has that recording.
        """
        if not recording_sid:
            recording_sid = recording_url.rstrip("/").rsplit("/", 1)[-1]
        with self.store.tx(f"ticket:{call_sid}") as db:
            filed = db.execute("SELECT number, recording_url, details FROM tickets "
                               "WHERE call_sid=?", (call_sid,)).fetchone()
            kept = str(filed["recording_url"] or "") if filed else ""
            if not recording_sid or kept.rstrip("/").rsplit("/", 1)[-1] != recording_sid:
                return False
            details = json.loads(filed["details"] or "{}")
            details["recording_status"] = status or "completed"
            if duration_s is not None:
                details["recording_s"] = duration_s
            url = recording_url if status in ("", "completed") and recording_url else kept
            db.execute("UPDATE tickets SET recording_url=?, details=? WHERE number=?",
                       (url, json.dumps(details), filed["number"]))
        return True

    def complaint(self, number: str) -> Ticket | None:
        row = self.store.read_one("SELECT number, status, reply_by, stage, result_at, "
                                  "result_en, result_zh, result_texted "
                                  "FROM tickets WHERE number=?", (number,))
        if row is None:
            return None
        return Ticket(row["number"], row["status"], parse_iso(row["reply_by"]), row["stage"],
                      parse_iso(row["result_at"]) if row["result_at"] else None,
                      {lang: text for lang, text in (("en-US", row["result_en"]),
                                                     ("zh-CN", row["result_zh"])) if text},
                      bool(row["result_texted"]))

    def dispute_complaint(self, number: str, recording_url: str, now: datetime,
                          reply_hours: float) -> Ticket | None:
        """The caller does not accept the result sent: the ticket back in review, with
        their recording of why and a new reply-by time; None when its result is not the
        last thing that happened to it (not sent, or disputed already)."""
        try:
            moved = complaints.move(self.store, number, "review", actor="caller",
                                    note="disputed by the caller on the phone", now=now,
                                    reply_hours=reply_hours, recording_url=recording_url)
        except complaints.MoveRefused:
            return None
        log.info("%s: disputed by the caller", complaints.describe(moved))
        return self.complaint(number)

    def add_account(self, number: str, pin: str, phone: str, status: str = "active") -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?) ON CONFLICT (number) DO "
                       "UPDATE SET phone=excluded.phone, pin_hash=excluded.pin_hash, "
                       "status=excluded.status",
                       (number, phone, pins.hash_pin(pin, self.pin_cost), status))

    def add_transaction(self, account: str, kind: str, amount: Decimal, status: str,
                        at: datetime) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO transactions (account, kind, amount, status, created_at) "
                       "VALUES (?, ?, ?, ?, ?)", (account, kind, str(amount), status, iso(at)))


def seed_demo(wallet: StoreWallet, now: datetime) -> None:
    """The demo accounts the README lists; idempotent, so restarts keep their state.

    Several processes may seed one new database at the same moment (two ``ivr serve
    --demo``): an account is inserted only if it is not there (ON CONFLICT DO NOTHING), and its
    demo transaction only by the process whose insert took, in the same transaction.
    """
    store = wallet.store
    known = {r["number"] for r in store.read_all("SELECT number FROM accounts")}
    # the PINs are hashed (scrypt, slow) before the write lock is taken
    missing = [(number, phone, pins.hash_pin(pin, wallet.pin_cost), status)
               for number, pin, phone, status in DEMO_ACCOUNTS if number not in known]
    if not missing:
        return
    with store.tx() as db:
        for row in missing:
            added = db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?) "
                               "ON CONFLICT (number) DO NOTHING", row).rowcount
            if added and row[0] == "10000001":
                db.execute("INSERT INTO transactions (account, kind, amount, status, created_at) "
                           "VALUES (?, 'topup', ?, 'processing', ?)",
                           (row[0], "200.00", iso(now - timedelta(days=1))))
