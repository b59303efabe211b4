"""The caller's verdict after an agent (``ivr.flow.survey``), kept on the call's row.

Migration 12 gave ``calls`` the columns: ``csat_asked_at`` (the question was put, after the
bridge), ``csat_score`` (1 to 5; NULL: not answered, the caller hung up or pressed no
score), ``csat_comment_url`` and ``csat_comment_s`` (the recorded comment, only a Twilio
URL over https). The call's row already names its queue, agent, language and tree version,
which is what ``ivr report`` splits the verdicts by. Each value is written once a call:
a replayed request, or a second one racing it, changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from ivr.records.recordings import twilio_recording
from ivr.records.store import Store, iso

log = logging.getLogger(__name__)


class StoreVerdicts:
    """``ivr.flow.services.Verdicts`` on the store's ``calls`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def asked(self, call_sid: str, now: datetime) -> None:
        """The survey began for the call (after its agent hung up)."""
        with self.store.tx() as db:
            db.execute("UPDATE calls SET csat_asked_at=COALESCE(csat_asked_at, ?) "
                       "WHERE call_sid=?", (iso(now), call_sid))

    def answered(self, call_sid: str, score: int, now: datetime) -> bool:
        """Keep the call's score, once; whether this request kept it."""
        if not 1 <= score <= 5:
            raise ValueError(f"a score is 1 to 5, not {score}")
        with self.store.tx() as db:
            return bool(db.execute(
                "UPDATE calls SET csat_score=?, csat_asked_at=COALESCE(csat_asked_at, ?) "
                "WHERE call_sid=? AND csat_score IS NULL",
                (score, iso(now), call_sid)).rowcount)

    def commented(self, call_sid: str, url: str, seconds: int | None) -> bool:
        """Keep the comment's recording, once, when its URL is Twilio's over https."""
        kept = twilio_recording(url)
        if kept is None:
            log.warning("call %s: a survey comment at a URL that is not Twilio's, not kept",
                        call_sid)
            return False
        with self.store.tx() as db:
            return bool(db.execute(
                "UPDATE calls SET csat_comment_url=?, csat_comment_s=? "
                "WHERE call_sid=? AND csat_comment_url IS NULL",
                (kept[:512], seconds, call_sid)).rowcount)

    def processed(self, call_sid: str, recording_sid: str, recording_url: str,
                  duration_s: int | None, status: str) -> bool:
        """Twilio's recordingStatusCallback for the comment: its length after trimming, or
        no audio (``absent``: the URL is dropped). Only the recording the call kept (its
        RecordingSid ends the URL); False when the call kept no such comment."""
        row = self.store.read_one("SELECT csat_comment_url FROM calls WHERE call_sid=?",
                                  (call_sid,))
        kept = str(row["csat_comment_url"] or "") if row else ""
        if not recording_sid:
            recording_sid = recording_url.rstrip("/").rsplit("/", 1)[-1]
        if not kept or kept.rstrip("/").rsplit("/", 1)[-1] != recording_sid:
            return False
        with self.store.tx() as db:
            if status in ("absent", "failed"):
                db.execute("UPDATE calls SET csat_comment_url=NULL, csat_comment_s=NULL "
                           "WHERE call_sid=?", (call_sid,))
            elif duration_s is not None:
                db.execute("UPDATE calls SET csat_comment_s=? WHERE call_sid=?",
                           (duration_s, call_sid))
        return True
