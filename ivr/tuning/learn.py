"""``ivr tune --db``: the traffic mix learnt from recorded calls (``calls``, ``call_events``).

- volume: the calls per day over the days the records span (at least one);
- languages: each call's language (``calls.lang``);
- reasons: the deepest target a call reached: the last queue node it walked, else the
  self-service node it ended at (contained); calls that reached neither are not reasons
  (they count for patience). Nodes the tree given does not have as targets (records of
  another version) are left out, and said so in the log;
- patience: exponential, its mean the maximum-likelihood one with censoring: the seconds
  every call spent in the IVR (to its enqueue, its self-service or its hang-up) over the
  calls that hung up in the IVR; none hung up: the base mix's patience;
- wrong keys: the share of menu inputs that were invalid keys;
- registered caller IDs: the share of verifications by caller ID (``callerid``) among
  those that named an account;
- returning callers: the share of calls from a number that called before;
- speakers: per language, the share of the calls reaching a menu that takes speech (in
  the tree given, or where the records heard speech) that spoke there (``heard``, an
  outcome of a spoken answer); a language with no call at such a menu, or records from
  before speech was kept: the base mix's share;
- barge-in: not in the records (they do not say when in a prompt a key came), so the
  base mix's share.

Reads the database (SQLite or PostgreSQL, ``ivr.records.database``) read-only; no Flask, no
Twilio.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.errors import MenuError, Problem, StoreError
from ivr.menu.model import Kind, takes_speech
from ivr.records.database import shown
from ivr.records.store import parse_iso
from ivr.tuning import mix as mix_file
from ivr.tuning.mix import Mix, Patience
from ivr.tuning.report import open_records
from ivr.tuning.report_speech import SPOKEN, heard
from ivr.tuning.routes import Routes, is_target

log = logging.getLogger(__name__)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return max(0.0, (parse_iso(end) - parse_iso(start)).total_seconds())


#: a database whose calls were recorded before steps recorded their choices and walks
RECORDED_BEFORE = ("its calls were recorded by an earlier release of ivr, which did not keep "
                   "the choices and nodes of each step that a mix is learnt from: learn from "
                   "calls recorded since, or give the mix with --mix")


@dataclass(frozen=True, slots=True)
class Learnt:
    """The mix learnt from the calls recorded, and when each of those calls started
    (``ivr plan --db`` learns its hours from them)."""

    mix: Mix
    starts: tuple[datetime, ...]


def default_base(routes: Routes, languages: tuple[str, ...]) -> Mix:
    """The shipped example's behaviour (barge-in, patience ...) as the base of a learnt mix;
    the example's reasons need not fit the tree."""
    try:
        return mix_file.load(None, routes, languages)
    except MenuError:  # the example fits the shipped tree only
        return mix_file.DEFAULT_BEHAVIOUR


def learn(location: Path | str, routes: Routes, base: Mix) -> Mix:
    """The mix of the calls recorded at ``location`` (a SQLite path or a
    ``postgresql://`` URL), for the tree of ``routes``."""
    return learn_calls(location, routes, base).mix


def learn_calls(location: Path | str, routes: Routes, base: Mix) -> Learnt:
    """``learn``'s mix, with the start of every call recorded (timezone-aware)."""
    menu = routes.menu
    where = shown(location)  # no password in a message or the mix's source
    try:
        with closing(open_records(location)) as db:
            if not {"choice", "walked"} <= db.columns("call_events"):
                raise MenuError([Problem(where, RECORDED_BEFORE)], where)
            calls = db.read_all("SELECT call_sid, from_number, started_at, ended_at, "
                                "duration_s, lang, node FROM calls "
                                "ORDER BY started_at, call_sid")
            said = "heard" if "heard" in db.columns("call_events") else "NULL AS heard"
            events = db.read_all(f"SELECT call_sid, at, node, choice, walked, outcome, {said} "
                                 "FROM call_events ORDER BY id")
    except StoreError as exc:
        said = str(exc)
        if not said.startswith(where):  # it names the database in its own words
            raise
        said = said.removeprefix(where).lstrip(": ")
        raise MenuError([Problem(where, said)], where) from exc
    by_call: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        by_call[event["call_sid"]].append(event)
    langs: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    skipped: Counter[str] = Counter()
    in_ivr_s, hangups = 0.0, 0
    menu_inputs = invalid = by_callerid = by_account = returning = 0
    seen: set[str] = set()
    speech_menus = {n.id for n in menu.nodes.values() if takes_speech(menu, n)}
    at_speech: Counter[str] = Counter()  # per language: calls at a speech menu
    spoke: Counter[str] = Counter()  # and of them, calls that spoke there
    for call in calls:
        mine = by_call.get(call["call_sid"], [])
        walked = [n for e in mine for n in (e["walked"] or "").split()]
        answers = [a for a in (heard(e["heard"]) for e in mine) if a is not None]
        if answers or speech_menus.intersection(walked):
            at_speech[call["lang"] or ""] += 1
            spoke[call["lang"] or ""] += any(a.get("outcome") in SPOKEN for a in answers)
        queued = [n for n in walked if n in menu.nodes and menu.nodes[n].kind is Kind.QUEUE]
        reason = queued[-1] if queued else None
        if reason is None and call["node"] in walked and call["node"] in menu.nodes and \
                menu.nodes[call["node"]].kind is Kind.SERVICE:
            reason = call["node"]
        if reason is not None and not (is_target(menu, reason) and routes.reaches(reason)):
            skipped[reason] += 1
            reason = None
        lang = call["lang"] or ""
        if reason is not None:
            langs[lang] += 1
            reasons[lang][reason] += 1
        enqueued = next((e["at"] for e in mine if (e["outcome"] or "").startswith("enqueue:")), None)
        ended = call["ended_at"] or (mine[-1]["at"] if mine else None)
        stay = _seconds(call["started_at"], enqueued or ended)
        if stay is None and call["duration_s"] is not None:
            stay = float(call["duration_s"])
        if stay is not None:
            in_ivr_s += stay
            hangups += reason is None and call["ended_at"] is not None
        for e in mine:
            node = menu.nodes.get(e["node"] or "")
            if node is not None and node.kind is Kind.MENU and e["choice"]:
                menu_inputs += 1
                invalid += e["choice"] == "invalid"
            by_callerid += e["choice"] == "callerid"
            by_account += e["choice"] == "account"
        number = call["from_number"] or ""
        returning += number in seen
        if number:
            seen.add(number)
    for name, count in sorted(skipped.items()):
        log.warning("%s: %d calls reached %s, not a target of %s: left out", where, count, name,
                    menu.source)
    total = sum(langs.values())
    if not total:
        raise MenuError([Problem(where, f"no recorded call reached a queue or self-service "
                                        f"node of {menu.source}: nothing to learn a mix "
                                        "from")], where)
    starts = [parse_iso(c["started_at"]) for c in calls]
    days = max(1, math.ceil((max(starts) - min(starts)).total_seconds() / 86400))
    patience = Patience("exponential", (in_ivr_s / hangups,)) \
        if hangups and in_ivr_s > 0 else base.patience
    return Learnt(replace(
        base, calls_per_day=len(calls) / days,
        languages=tuple((lang, n / total) for lang, n in sorted(langs.items())),
        reasons={lang: tuple((node, n / sum(c.values())) for node, n in sorted(c.items()))
                 for lang, c in sorted(reasons.items())},
        returning=min(returning / len(calls), 1.0 - base.barge_in),
        wrong_key=invalid / menu_inputs if menu_inputs else base.wrong_key,
        registered=by_callerid / (by_callerid + by_account) if by_callerid + by_account
        else base.registered,
        patience=patience, source=where,
        speakers=tuple((lang, spoke[lang] / at_speech[lang] if at_speech[lang]
                        else base.speaks(lang)) for lang in sorted(langs))), tuple(starts))
