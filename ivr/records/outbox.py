"""The SMS outbox (migration 11): follow-ups a call wrote, until a sender sends them.

A webhook only writes a row (``Outbox.add``, the flow's ``Texts``); a sender
(``ivr.web.sender``) claims due rows with a lease, sends them, and records Twilio's
message SID and status, a retry's next time, or why it gave up. Claims are one
``UPDATE … WHERE the lease expired`` each, so of two senders on one database (two hosts on
one PostgreSQL) only one holds a row at a time. The numbers that texted STOP are kept in
``sms_optouts``, and get nothing until they text START. No HTTP, no Twilio here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ivr.records.database import Tx
from ivr.records.store import Store, iso, parse_iso

log = logging.getLogger(__name__)

#: what a row's status may be: waiting to be sent (or retried), accepted by Twilio, given up
PENDING, SENT, FAILED = "pending", "sent", "failed"
#: Twilio's final message statuses: a late "sent" callback does not overwrite them
FINAL = ("delivered", "undelivered", "failed", "read", "canceled")


@dataclass(frozen=True, slots=True)
class Message:
    """A row of the outbox as a sender or a listing sees it."""

    id: int
    call_sid: str | None
    kind: str
    to_number: str
    lang: str
    body: str
    created_at: datetime
    status: str
    attempts: int
    message_sid: str | None = None
    twilio_status: str | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Message:
        return cls(int(row["id"]), row["call_sid"], row["kind"], row["to_number"], row["lang"],
                   row["body"], parse_iso(row["created_at"]), row["status"],
                   int(row["attempts"]), row["message_sid"], row["twilio_status"], row["error"])


_COLUMNS = ("id, call_sid, kind, to_number, lang, body, created_at, status, attempts, "
            "message_sid, twilio_status, error")


def add_in(db: Tx, *, number: str, lang: str, kind: str, body: str, call_sid: str | None,
           now: datetime, max_per_day: int) -> int | None:
    """``Outbox.add_text`` in the transaction ``db`` of the change the message tells of (a
    complaint's result sent), so the change is never kept without its message."""
    if db.execute("SELECT 1 FROM sms_optouts WHERE number=?", (number,)).fetchone():
        log.info("call %s: no %s text, the number opted out", call_sid, kind)
        return None
    sent = db.execute("SELECT COUNT(*) FROM sms_outbox WHERE to_number=? AND created_at>?",
                      (number, iso(now - timedelta(days=1)))).fetchone()[0]
    if sent >= max_per_day:
        log.warning("call %s: no %s text, %d already for the number today", call_sid, kind,
                    sent)
        return None
    row = db.execute(
        "INSERT INTO sms_outbox (call_sid, kind, to_number, lang, body, created_at, "
        "next_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (call_sid, kind) DO NOTHING RETURNING id",
        (call_sid, kind, number, lang, body, iso(now), iso(now), iso(now))).fetchone()
    return int(row[0]) if row else None


class Outbox:
    """The outbox in ``store``; safe to share between threads."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- what a call writes ------------------------------------------------------------
    def add_text(self, *, number: str, lang: str, kind: str, body: str, call_sid: str,
                 now: datetime, max_per_day: int) -> int | None:
        """Keep a message for ``number``; None when the number opted out, already had
        ``max_per_day`` in 24 hours, or the call already wrote one of this ``kind``."""
        with self.store.tx(f"sms:{number}") as db:
            return add_in(db, number=number, lang=lang, kind=kind, body=body,
                          call_sid=call_sid, now=now, max_per_day=max_per_day)

    # -- opt-outs (the inbound-SMS webhook) -----------------------------------------------
    def opt_out(self, number: str, keyword: str, now: datetime) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO sms_optouts (number, keyword, at) VALUES (?, ?, ?) "
                       "ON CONFLICT (number) DO UPDATE SET keyword=excluded.keyword, "
                       "at=excluded.at", (number, keyword, iso(now)))

    def opt_in(self, number: str) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM sms_optouts WHERE number=?", (number,))

    def opted_out(self, number: str) -> bool:
        return self.store.read_one("SELECT 1 FROM sms_optouts WHERE number=?",
                                   (number,)) is not None

    # -- what a sender does ---------------------------------------------------------------
    def take_sender(self, holder: str, now: datetime, lease: timedelta) -> bool:
        """Whether ``holder`` is the deployment's sender until ``now + lease``: taken when
        no other holds the lease, kept by renewing it before it ends."""
        with self.store.tx() as db:
            return bool(db.execute(
                "INSERT INTO sms_sender (id, holder, until) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET holder=excluded.holder, until=excluded.until "
                "WHERE sms_sender.until < ? OR sms_sender.holder = excluded.holder",
                (holder, iso(now + lease), iso(now))).rowcount)

    def claim(self, holder: str, now: datetime, lease: timedelta, limit: int = 20
              ) -> list[Message]:
        """The due messages no other sender holds, leased to ``holder`` (each claim counts
        an attempt). A row is held by one sender until its lease ends; the condition is
        repeated in the outer ``WHERE`` so that PostgreSQL, which re-reads a row another
        transaction changed meanwhile, skips one leased under it."""
        at, until = iso(now), iso(now + lease)
        free = "status='pending' AND next_at<=? AND (lease_until IS NULL OR lease_until<?)"
        with self.store.tx() as db:
            rows = db.execute(
                f"UPDATE sms_outbox SET lease_until=?, leased_by=?, attempts=attempts+1, "
                f"updated_at=? WHERE id IN (SELECT id FROM sms_outbox WHERE {free} "
                f"ORDER BY next_at, id LIMIT ?) AND {free} RETURNING {_COLUMNS}",
                (until, holder, at, at, at, limit, at, at)).fetchall()
        return sorted((Message.from_row(r) for r in rows), key=lambda m: m.id)

    def sent(self, message: Message, holder: str, message_sid: str, status: str,
             now: datetime) -> None:
        """Twilio accepted it: its SID and status kept, the lease let go."""
        self._settle(message, holder, now, "status=?, message_sid=?, twilio_status=?, "
                     "sent_at=?, error=NULL", (SENT, message_sid, status, iso(now)))

    def retry(self, message: Message, holder: str, at: datetime, error: str,
              now: datetime) -> None:
        """Not sent this time: try again at ``at``, why kept."""
        self._settle(message, holder, now, "next_at=?, error=?", (iso(at), error))

    def give_up(self, message: Message, holder: str, error: str, now: datetime) -> None:
        """Not sent, and never will be: why kept."""
        self._settle(message, holder, now, "status=?, error=?", (FAILED, error))

    def _settle(self, message: Message, holder: str, now: datetime, changes: str,
                values: tuple[Any, ...]) -> None:
        with self.store.tx() as db:
            kept = db.execute(f"UPDATE sms_outbox SET {changes}, lease_until=NULL, "
                              f"leased_by=NULL, updated_at=? WHERE id=? AND leased_by=?",
                              (*values, iso(now), message.id, holder)).rowcount
        if not kept:  # its lease ran out and another sender took it
            log.warning("sms %d: its lease ran out before its outcome was kept", message.id)

    def status_update(self, message_sid: str, status: str, error_code: str | None,
                      now: datetime) -> bool:
        """Twilio's status callback: the message's later status (delivered, undelivered…);
        a final one is not overwritten by a late report of an earlier one."""
        final = ", ".join(f"'{s}'" for s in FINAL)
        with self.store.tx() as db:
            return bool(db.execute(
                f"UPDATE sms_outbox SET twilio_status=?, error=COALESCE(?, error), updated_at=? "
                f"WHERE message_sid=? AND (twilio_status IS NULL OR twilio_status NOT IN "
                f"({final}) OR ? IN ({final}))",
                (status, f"Twilio error {error_code}" if error_code else None, iso(now),
                 message_sid, status)).rowcount)

    # -- listing --------------------------------------------------------------------------
    def messages(self, status: str | None = None, call_sid: str | None = None,
                 limit: int = 100) -> list[Message]:
        """The latest messages, newest first: of one status, or of one call."""
        where, params = [], []
        if status:
            where.append("status=?")
            params.append(status)
        if call_sid:
            where.append("call_sid=?")
            params.append(call_sid)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self.store.read_all(f"SELECT {_COLUMNS} FROM sms_outbox {clause}"
                                   f"ORDER BY id DESC LIMIT ?", (*params, limit))
        return [Message.from_row(r) for r in rows]

    def waiting(self) -> int:
        return int(self.store.read_one("SELECT COUNT(*) FROM sms_outbox WHERE status=?",
                                       (PENDING,))[0])
