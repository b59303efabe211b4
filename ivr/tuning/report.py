"""What callers did, from the call records: the numbers behind ``ivr report``.

``build`` reads the ``calls`` and ``call_events`` tables of an ivr database, SQLite or
PostgreSQL (``ivr.records.database``, read only: a million events in a few seconds), and returns
plain data, the JSON shape of issue 10. Rendering it (text, CSV, HTML) is ``report_render``'s
job; this module neither prints nor draws.

Definitions, each exact over the records:

- a call belongs to the period it *started* in (``since`` inclusive, ``until``
  exclusive, both aware datetimes);
- ``nodes[n]["entered"]`` counts *entries* (a step whose ``walked`` names ``n``: a caller
  who goes back to the main menu enters it twice); ``calls`` counts distinct calls;
- ``options`` counts what each input at ``n`` meant (a menu key, ``entered`` at a
  collect node, ``verified`` at a verify node ...), apart from ``invalid``, ``no_input``,
  ``repeat`` (``*``) and ``back`` (``9``), which have their own counts; ``shares`` are
  each option's share of the options chosen there;
- ``hangups``: calls whose last step asked for input at ``n`` and whose status is final
  (the caller hung up there: the drop-off);
- ``median_s``: the median seconds from the step that asked for input at ``n`` to the
  step that moved the call on (a stay cut short by a hang-up is not counted);
- a call's queue *episodes* are the queues it arrived at, in order (a queue node walked,
  or an ``enqueue:`` step); ``queues[q]["calls"]`` counts calls with an episode at ``q``,
  ``time_to_queue_s`` the seconds from the call's start to its first arrival there, and
  ``outcomes`` how each episode ended: ``answered`` (bridged), ``hung_up_waiting``,
  ``callback`` (one was booked), ``refused`` (queue full), ``error``, ``redirected``,
  ``left``, ``moved`` (sent on to another queue), ``not_queued`` (heard the offer or the
  closed line and never held), ``unknown`` (no Enqueue result recorded) or
  ``in_progress``; they add up to ``calls``;
- **containment**: a call is contained when it ended (final status) in self-service:
  it entered a self-service node (kind ``service`` in the trees given), never arrived at
  a queue, booked no callback, and its last step either asked at a self-service node or
  ended the call (heard its top-up status and hung up; not one that pressed 0 for an
  agent and dropped on the way). ``rate`` is over all calls of the period;
- **verification**: ``attempted`` calls gave an account or confirmed their caller ID at
  a verify node; ``verified`` ones got through (a frozen account included), ``failed``
  ones gave up or ran out of tries unverified, ``locked`` ones met a lock; ``skipped``
  pressed star, ``wrong`` counts wrong entries;
- **misroutes**: ``fallback`` calls reached their first queue in or after a step that
  moved on through a fallback (failures or a fault), ``back`` calls pressed 9 at a
  sub-menu (which leaves it before any option there is chosen);
- **speech**: per speech menu, the calls that reached it, spoke, were matched, confirmed,
  declined, re-asked, sent to the keypad and routed by speech, and the targets speech
  routed them to (``ivr.tuning.report_speech``; the records keep no words);
- **notices**: per incident notice (``ivr.flow.notices``), the calls that ``heard`` it and
  what each did next: ``went_on`` to a queue (by queue: the first it was enqueued in from
  the step that said the notice on), else booked a ``callback``, else ``deflected`` (hung
  up without either, self-service included) or, not ended, ``in_progress``; they add up
  to ``heard``. With its ``scope`` and whether it was an ``emergency`` switch, where the
  database still has it;
- **returning**: known callers (``ivr.records.known``) ``offered`` the way back to their
  last need after the language, those who ``taken`` it (pressed 1), and the median time
  to queue from the answer of those (``to_queue_p50_s``);
- **csat**: the callers' verdicts after an agent (``ivr.flow.survey``), over the calls
  ``bridged`` to one (``QueueResult=bridged``, or taken on ``/agent/connect``): ``asked``
  (the survey began), ``answered`` (pressed 1 to 5; hanging up is not answering),
  ``answered_share`` of the bridged, the ``mean`` score, the count of each ``scores``
  key and the recorded ``comments``; in all and per ``queues`` (the call's last), ``agents``
  (``unknown`` when none was named), ``languages`` and ``versions``.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, nullcontext
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple

from ivr.errors import StoreError
from ivr.menu.model import Kind, Menu, takes_speech
from ivr.records import complaints
from ivr.records.database import Database, not_ivr, open_database
from ivr.records.store import iso
from ivr.tuning.report_speech import SpeechTally, heard

SPECIAL = {"invalid": "invalid", "no_input": "no_input", "repeat": "repeat", "back": "back"}
ATTEMPTS = frozenset({"account", "callerid", "other_account", "verified", "wrong", "failed",
                      "locked", "frozen"})
OUTCOMES = ("answered", "hung_up_waiting", "callback", "refused", "error", "redirected",
            "left", "moved", "not_queued", "unknown", "in_progress")
_RESULTS = {"bridged": "answered", "bridging-in-process": "answered",
            "hangup": "hung_up_waiting", "leave": "left", "queue-full": "refused",
            "error": "error", "system-error": "error", "redirected": "redirected"}
TOP_PATHS = 5
#: call events read at a time: a million need not be held at once
EVENTS_PER_READ = 20_000


class _Call(NamedTuple):
    """A call's row, as much of it as the report reads."""

    started_at: str
    ended: bool  # Twilio reported a final status (the store's ``ended_at``, as ``StoredCall``)
    lang: str
    version: str
    file: str | None
    queue_result: str | None
    started: int  # epoch s

    @property
    def slice(self) -> tuple[str, str]:
        return self.version, self.lang


class _Tally:
    """The counts of one slice of calls (one tree version and language); slices add up."""

    __slots__ = ("calls", "node_calls", "entered", "choices", "hangups", "stays", "q_calls",
                 "to_queue", "outcomes", "contained", "verification", "paths", "fallback",
                 "back", "backed", "arrivals", "speech", "notices", "returning", "returned_s")

    def __init__(self) -> None:
        self.calls = 0
        self.node_calls: Counter[str] = Counter()
        self.entered: Counter[str] = Counter()
        self.choices: Counter[tuple[str, str]] = Counter()
        self.hangups: Counter[str] = Counter()
        self.stays: dict[str, list[int]] = {}
        self.q_calls: Counter[str] = Counter()
        self.to_queue: dict[str, list[int]] = {}
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.contained = 0
        self.verification: Counter[str] = Counter()
        self.paths: Counter[tuple[str, tuple[str, ...]]] = Counter()
        self.fallback: Counter[str] = Counter()
        self.back: Counter[str] = Counter()  # sub-menu -> calls that went back from it
        self.backed = 0  # calls that went back from any
        self.arrivals: Counter[tuple[str, int]] = Counter()  # (queue, UTC hour) for Erlang A
        self.speech = SpeechTally()
        #: (notice id, what the call did after it: NOTICE_OUTCOMES or "queue:<name>")
        self.notices: Counter[tuple[int, str]] = Counter()
        #: known callers offered the way back to their last need, and those who took it
        self.returning: Counter[str] = Counter()
        self.returned_s: list[int] = []  # their time to queue, from the answer

    def add(self, other: _Tally) -> None:
        self.calls += other.calls
        self.contained += other.contained
        self.backed += other.backed
        self.speech.add(other.speech)
        for name in ("node_calls", "entered", "choices", "hangups", "q_calls", "outcomes",
                     "verification", "paths", "fallback", "back", "arrivals", "notices",
                     "returning"):
            getattr(self, name).update(getattr(other, name))
        self.returned_s.extend(other.returned_s)
        for name in ("stays", "to_queue"):
            mine = getattr(self, name)
            for key, values in getattr(other, name).items():
                mine.setdefault(key, []).extend(values)


def build(records: Path | str | Database, *, since: datetime | None = None,
          until: datetime | None = None, version: str | None = None,
          menus: Iterable[Menu] | None = None, centre: Any | None = None) -> dict[str, Any]:
    """The report of the calls in ``records`` (a SQLite path or a ``postgresql://`` URL,
    opened read-only, or a database already open, as the console's) that started in
    ``[since, until)`` and ran on ``version`` (a tree hash or file name). ``menus`` say
    which nodes are self-service and which are queues (default: the shipped tree);
    ``centre`` (``ivr.queue.advice``) gives the Erlang A prediction (default: the shipped
    traffic file)."""
    if menus is None:
        from ivr.menu.loader import load

        menus = [load(None)[0]]
    service, queue_of, speech_menus = _kinds(menus)
    slices: dict[tuple[str, str], _Tally] = {}
    opened = closing(open_records(records)) if isinstance(records, str | os.PathLike) \
        else nullcontext(records)
    # one moment of a live database: the calls, the callbacks and every page of events
    with opened as db, db.snapshot():
        calls = _calls(db, since, until, version)
        verdicts = csat(db, since, until, version)
        booked = _booked(db)
        described = _notice_rows(db)
        unrecorded = 0
        stepped: set[str] = set()
        for sid, grouped in groupby(_events(db), key=lambda r: r[0]):
            call = calls.get(sid)
            if call is None:
                continue
            rows = list(grouped)
            unrecorded += all(row[5] is None for row in rows)
            _walk(slices.setdefault(call.slice, _Tally()), call, rows, sid in booked, service,
                  queue_of)
            stepped.add(sid)
        for sid in calls.keys() - stepped:  # calls without a single step recorded
            call = calls[sid]
            _walk(slices.setdefault(call.slice, _Tally()), call, [], sid in booked, service,
                  queue_of)
        # the complaints filed in the period, through their workflow (ivr.flow.complaints)
        complained = complaints.figures(db, datetime.now(UTC), since, until)
    total = _Tally()
    versions: dict[str, _Tally] = {}
    languages: dict[str, _Tally] = {}
    for (ver, lang), tally in slices.items():
        total.add(tally)
        versions.setdefault(ver, _Tally()).add(tally)
        languages.setdefault(lang, _Tally()).add(tally)
    files = {c.version: c.file for c in calls.values()}
    report = _summary(total, speech_menus)
    #: calls recorded by a release before steps kept their choices and walks: counted in
    #: the calls, queues and times, but in no node's figures
    report["unrecorded"] = unrecorded
    report["period"] = {
        "since": since.astimezone(UTC).isoformat() if since else None,
        "until": until.astimezone(UTC).isoformat() if until else None,
        "first_call": min((c.started_at for c in calls.values()), default=None),
        "last_call": max((c.started_at for c in calls.values()), default=None),
    }
    _predict(report["queues"], total, centre)
    report["paths"] = _paths(total)
    report["versions"] = {v: {"menu_file": files.get(v), **_summary(t, speech_menus)}
                          for v, t in sorted(versions.items())}
    report["languages"] = {lang: _summary(t, speech_menus)
                           for lang, t in sorted(languages.items())}
    for number, entry in report["notices"].items():
        entry["scope"], entry["emergency"] = described.get(number, (None, None))
    report["csat"] = verdicts
    report["complaints"] = complained
    return report


# -- reading ------------------------------------------------------------------------------

def open_records(location: Path | str) -> Database:
    """The call records at ``location`` (a SQLite path or a ``postgresql://`` URL),
    read-only: a file is neither created, migrated nor written, a PostgreSQL session
    refuses writes. StoreError naming the database when it is none, or not an ivr one."""
    db = open_database(location, read_only=True)  # a file that is not there: "no such database"
    try:
        tables = db.tables()
    except StoreError:
        db.close()
        raise
    problem = not_ivr(db.where, tables, ("calls", "call_events"))
    if problem:
        db.close()
        raise StoreError(problem)
    return db


def recorded_versions(records: Path | str) -> list[tuple[str, str | None]]:
    """The tree versions the calls at ``records`` ran on, each with its file name (a
    database older than versions has none), so that an unknown ``--version`` is told
    from a period without calls."""
    with closing(open_records(records)) as db:
        if "menu_version" not in db.columns("calls"):
            return []
        return [(str(r[0]), r[1]) for r in db.read_all(
            "SELECT DISTINCT menu_version, menu_file FROM calls WHERE menu_version IS NOT NULL "
            "ORDER BY menu_version")]


def _columns(db: Database, table: str, wanted: Mapping[str, str]) -> str:
    """``wanted`` columns, each replaced by its default where an older database lacks it
    (a reader never migrates)."""
    have = db.columns(table)
    return ", ".join(c if c in have else f"{default} AS {c}" for c, default in wanted.items())


def _period_sql(since: datetime | None, until: datetime | None,
                version: str | None) -> tuple[str, list[Any]]:
    """The conditions on ``calls`` of the period and version, and their parameters."""
    sql = ""
    params: list[Any] = []
    if since is not None:
        sql += " AND started_at >= ?"
        params.append(iso(since))
    if until is not None:
        sql += " AND started_at < ?"
        params.append(iso(until))
    if version is not None:
        sql += " AND (menu_version = ? OR menu_file = ?)"
        params += [version, Path(version).name]
    return sql, params


def _calls(db: Database, since: datetime | None, until: datetime | None,
           version: str | None) -> dict[str, _Call]:
    """The calls of the period and version, by sid."""
    columns = _columns(db, "calls", {"menu_version": "NULL", "menu_file": "NULL"})
    where, params = _period_sql(since, until, version)
    sql = (f"SELECT call_sid, started_at, ended_at IS NOT NULL, COALESCE(lang, 'unknown'), "
           f"{columns}, queue_result, {db.epoch('started_at')} FROM calls WHERE 1=1{where}")
    return {sid: _Call(started_at, bool(ended), lang, version or "unknown", *rest)
            for sid, started_at, ended, lang, version, *rest in db.read_all(sql, params)}


#: the scores a caller may press (``ivr.flow.survey.SCORES``)
SCORES = ("1", "2", "3", "4", "5")


class _Verdicts:
    """The verdicts of one group of bridged calls."""

    __slots__ = ("bridged", "asked", "scores", "comments")

    def __init__(self) -> None:
        self.bridged = self.asked = self.comments = 0
        self.scores: Counter[str] = Counter()

    def count(self, asked: bool, score: int | None, commented: bool) -> None:
        self.bridged += 1
        self.asked += asked
        self.comments += commented
        if score is not None and str(score) in SCORES:
            self.scores[str(score)] += 1

    def summary(self) -> dict[str, Any]:
        answered = sum(self.scores.values())
        total = sum(int(k) * n for k, n in self.scores.items())
        return {"bridged": self.bridged, "asked": self.asked, "answered": answered,
                "answered_share": round(answered / self.bridged, 4) if self.bridged else None,
                "mean": round(total / answered, 2) if answered else None,
                "scores": {k: self.scores[k] for k in SCORES}, "comments": self.comments}


def csat(db: Database, since: datetime | None = None, until: datetime | None = None,
         version: str | None = None) -> dict[str, Any]:
    """The callers' verdicts after an agent, in all and per queue, agent, language and tree
    version (see the module's definitions); zeros in a database from before them."""
    columns = _columns(db, "calls", {
        "menu_version": "NULL", "agent": "NULL", "bridged_at": "NULL", "csat_asked_at": "NULL",
        "csat_score": "NULL", "csat_comment_url": "NULL"})
    where, params = _period_sql(since, until, version)
    rows = db.read_all(f"SELECT COALESCE(queue, 'unknown'), COALESCE(lang, 'unknown'), "
                       f"queue_result, {columns} FROM calls WHERE 1=1{where}", params)
    total = _Verdicts()
    splits: dict[str, dict[str, _Verdicts]] = {
        "queues": {}, "agents": {}, "languages": {}, "versions": {}}
    for queue, lang, result, ver, agent, bridged_at, asked, score, comment in rows:
        if result != "bridged" and bridged_at is None:
            continue
        counted = (asked is not None, None if score is None else int(score), comment is not None)
        total.count(*counted)
        for split, key in (("queues", queue), ("agents", agent or "unknown"),
                           ("languages", lang), ("versions", ver or "unknown")):
            splits[split].setdefault(str(key), _Verdicts()).count(*counted)
    return {**total.summary(),
            **{split: {k: v.summary() for k, v in sorted(groups.items())}
               for split, groups in splits.items()}}


def _booked(db: Database) -> set[str]:
    """The calls that booked a callback (the callbacks table names the last call that
    asked; the step that booked says ``callback_booked``, see ``_events``)."""
    if "callbacks" not in db.tables():
        return set()  # a database from before callbacks
    return {r[0] for r in db.read_all("SELECT call_sid FROM callbacks "
                                      "WHERE call_sid IS NOT NULL")}


def _events(db: Database) -> Iterator[tuple[Any, ...]]:
    """(sid, at epoch s, node, outcome, choice, walked, fell_back, heard, notices, booked,
    queue full, offered the way back, id),
    grouped by call, in order: the work done in the database, only small values cross,
    ``EVENTS_PER_READ`` at a time (each read picks up after the last one's row, along
    the index on call_sid and id)."""
    columns = _columns(db, "call_events", {"choice": "NULL", "walked": "NULL",
                                           "fell_back": "0", "heard": "NULL",
                                           "notices": "NULL"})
    select = (f"SELECT call_sid, {db.epoch('at')}, node, outcome, {columns}, "
              "said LIKE '%callback_booked%', said LIKE 'queue_full%', "
              "said LIKE '%returning_ask%', id FROM call_events")
    order = " ORDER BY call_sid, id LIMIT ?"
    after: tuple[Any, ...] = ()
    while True:
        rows = db.read_all(select + (" WHERE (call_sid, id) > (?, ?)" if after else "") + order,
                           (*after, EVENTS_PER_READ))
        yield from rows
        if len(rows) < EVENTS_PER_READ:
            return
        after = (rows[-1][0], rows[-1][-1])


def _kinds(menus: Iterable[Menu]) -> tuple[frozenset[str], dict[str, str], frozenset[str]]:
    """Self-service node ids, each queue node's queue, and the menus taking speech, over
    every tree given."""
    service: set[str] = set()
    queue_of: dict[str, str] = {}
    speech: set[str] = set()
    for menu in menus:
        for node in menu.nodes.values():
            if node.kind is Kind.SERVICE:
                service.add(node.id)
            elif node.kind is Kind.QUEUE:
                queue_of[node.id] = node.queue or "general"
            elif takes_speech(menu, node):
                speech.add(node.id)
    return frozenset(service), queue_of, frozenset(speech)


# -- one call -----------------------------------------------------------------------------

def _walk(t: _Tally, call: _Call, rows: list[tuple[Any, ...]], booked: bool,
          service: frozenset[str], queue_of: dict[str, str]) -> None:
    """Count one call's steps into ``t``."""
    t.calls += 1
    seen: set[str] = set()
    choices: set[str] = set()
    backs: set[str] = set()  # the sub-menus the call went back from
    path: list[str] = []
    episodes: list[str] = []  # queues arrived at, in order
    enqueued: set[str] = set()  # queues the call held in (not only heard the offer of)
    refused: dict[str, str] = {}  # queue -> how its episode ended, when not the last
    position, since_s = None, 0
    self_served = False
    fell_at: int | None = None  # how many queue arrivals came before the first fallback
    outcome = ""
    spoken: list[tuple[str, dict[str, Any]]] = []  # (menu, what a spoken answer matched)
    told: dict[int, int] = {}  # notice id -> the step that said it
    held: list[tuple[int, str]] = []  # (step, queue) of each enqueue
    offered = False
    for step, (_, at, node, outcome, choice, walked, fell, said, notices, said_booked, full,
               offer, _) in enumerate(rows):
        offered = offered or bool(offer)
        outcome = outcome or ""
        for notice in (notices or "").split():
            told.setdefault(int(notice), step)
        answer = heard(said)
        if answer is not None and node:
            spoken.append((node, answer))
        if choice and node and node[0] != "(":
            t.choices[(node, choice)] += 1
            choices.add(choice)
            if choice == "back":
                backs.add(node)
        if said_booked:
            booked = True
        if node == "(queue-done)" and episodes:  # the queue let the caller go on
            refused.setdefault(episodes[-1], "refused" if full else "error" if fell else "moved")
        if fell and fell_at is None:
            fell_at = len(episodes)
        # the survey after an agent asks at the flow's own nodes, "(survey)": no node's
        target = outcome[4:] if outcome.startswith("ask:") and outcome[4:5] != "(" else None
        if position is not None and (target != position or walked):
            t.stays.setdefault(position, []).append(at - since_s)
            position = None
        if walked:
            for n in walked.split():
                t.entered[n] += 1
                seen.add(n)
                if not path or path[-1] != n:
                    path.append(n)
                if n in service:
                    self_served = True
                if n in queue_of:
                    _arrive(t, queue_of[n], at, at - call.started, path, episodes)
        if outcome.startswith("enqueue:"):
            held.append((step, outcome[8:]))
            enqueued.add(outcome[8:])
            _arrive(t, outcome[8:], at, at - call.started, path, episodes)
        if target is not None and position is None:
            position, since_s = target, at
    t.node_calls.update(seen)
    ended = call.ended
    if ended and outcome.startswith("ask:") and outcome[4:5] != "(":
        t.hangups[outcome[4:]] += 1
    if fell_at is not None and fell_at < len(episodes):  # the first queue reached after it
        t.fallback[episodes[fell_at]] += 1
    t.back.update(backs)
    t.backed += bool(backs)
    t.speech.count(spoken)
    if offered:
        t.returning["offered"] += 1
        if "returning" in choices:
            t.returning["taken"] += 1
            first = next((at - call.started for _, at, _, o, *_ in rows
                          if (o or "").startswith("enqueue:")), None)
            if first is not None:
                t.returned_s.append(first)
    for notice, step in told.items():
        queue = next((q for at_step, q in held if at_step >= step), None)
        t.notices[(notice, f"queue:{queue}" if queue else "callback" if booked
                   else "deflected" if ended else "in_progress")] += 1
    _queue_outcomes(t, call, episodes, refused, booked, ended, enqueued)
    if (ended and self_served and not episodes and not booked and
            (outcome == "hangup" or outcome[4:] in service)):
        t.contained += 1
    _verification(t, choices, rows)


def _arrive(t: _Tally, queue: str, at: int, after_s: int, path: list[str],
            episodes: list[str]) -> None:
    """A call at ``queue``, ``after_s`` into it: a new episode unless it is there already;
    the first time, its time to queue, path and hour."""
    if episodes and episodes[-1] == queue:
        return
    first = queue not in episodes
    episodes.append(queue)
    if not first:
        return
    t.q_calls[queue] += 1
    t.to_queue.setdefault(queue, []).append(after_s)
    t.paths[(queue, tuple(path))] += 1
    t.arrivals[(queue, at // 3600)] += 1


def _queue_outcomes(t: _Tally, call: _Call, episodes: list[str], refused: dict[str, str],
                    booked: bool, ended: bool, enqueued: set[str]) -> None:
    """How each queue the call arrived at ended for it (once per queue)."""
    distinct = list(dict.fromkeys(episodes))
    for queue in distinct[:-1]:
        t.outcomes[(queue, refused.get(queue, "moved"))] += 1
    if not distinct:
        return
    last = distinct[-1]
    result = call.queue_result
    if booked:
        how = "callback"
    elif result in _RESULTS:
        how = _RESULTS[result]
    elif last not in enqueued:
        how = "not_queued" if ended else "in_progress"
    else:
        how = "unknown" if ended else "in_progress"
    t.outcomes[(last, how)] += 1


def _verification(t: _Tally, choices: set[str], rows: list[tuple[Any, ...]]) -> None:
    if not choices & (ATTEMPTS | {"skipped"}):
        return
    verified = bool(choices & {"verified", "frozen"})
    t.verification["attempted"] += bool(choices & ATTEMPTS)
    t.verification["verified"] += verified
    t.verification["failed"] += "failed" in choices and not verified
    t.verification["locked"] += "locked" in choices
    t.verification["skipped"] += "skipped" in choices
    t.verification["wrong"] += sum(1 for r in rows if r[4] == "wrong")


# -- summing up ---------------------------------------------------------------------------

def _median(values: list[int] | None) -> float | None:
    return float(statistics.median(values)) if values else None


def _percentile(values: list[int] | None, share: float) -> float | None:
    """The nearest-rank percentile: a value some call really had."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return float(ordered[int(rank) - 1])


def _nodes(t: _Tally) -> dict[str, dict[str, Any]]:
    ids = set(t.entered) | {n for n, _ in t.choices} | set(t.hangups)
    nodes: dict[str, dict[str, Any]] = {}
    for node in sorted(ids):
        nodes[node] = {"entered": t.entered[node], "calls": t.node_calls[node],
                       "options": {}, "shares": {}, "invalid": 0, "no_input": 0,
                       "repeat": 0, "back": 0, "hangups": t.hangups[node],
                       "median_s": _median(t.stays.get(node))}
    for (node, choice), n in sorted(t.choices.items()):
        if choice in SPECIAL:
            nodes[node][SPECIAL[choice]] += n
        else:
            nodes[node]["options"][choice] = n
    for entry in nodes.values():
        chosen = sum(entry["options"].values())
        entry["shares"] = {k: round(v / chosen, 4) for k, v in entry["options"].items()}
    return nodes


def _queues(t: _Tally) -> dict[str, dict[str, Any]]:
    queues: dict[str, dict[str, Any]] = {}
    for queue in sorted(t.q_calls):
        outcomes = {how: t.outcomes[(queue, how)] for how in OUTCOMES}
        held = t.q_calls[queue] - outcomes["not_queued"]
        queues[queue] = {
            "calls": t.q_calls[queue],
            "time_to_queue_s": {"p50": _percentile(t.to_queue.get(queue), 0.5),
                                "p90": _percentile(t.to_queue.get(queue), 0.9)},
            "outcomes": outcomes,
            "abandonment": round(outcomes["hung_up_waiting"] / held, 4) if held else None,
        }
    return queues


def _summary(t: _Tally, speech_menus: frozenset[str]) -> dict[str, Any]:
    """Everything but the paths and the splits, for one slice of calls."""
    return {
        "calls": t.calls,
        "nodes": _nodes(t),
        "queues": _queues(t),
        "containment": {"calls": t.contained,
                        "rate": round(t.contained / t.calls, 4) if t.calls else 0.0},
        "verification": {k: t.verification[k] for k in
                         ("attempted", "verified", "failed", "locked", "skipped", "wrong")},
        "misroutes": {
            "fallback": {"calls": sum(t.fallback.values()), "queues": dict(sorted(t.fallback.items()))},
            "back": {"calls": t.backed, "nodes": dict(sorted(t.back.items()))},
        },
        "speech": t.speech.summary(t.node_calls, speech_menus),
        "notices": _notices(t),
        "returning": {"offered": t.returning["offered"], "taken": t.returning["taken"],
                      "to_queue_p50_s": _median(t.returned_s)},
    }


#: what a call did after a notice, but going on to a queue (``queue:<name>``)
NOTICE_OUTCOMES = ("deflected", "callback", "in_progress")


def _notices(t: _Tally) -> dict[str, dict[str, Any]]:
    """Per notice heard (by id, as text: a JSON key), its calls and what they did next."""
    found: dict[str, dict[str, Any]] = {}
    for (notice, how), n in sorted(t.notices.items()):
        entry = found.setdefault(str(notice), {"heard": 0, "went_on": {},
                                               **dict.fromkeys(NOTICE_OUTCOMES, 0)})
        entry["heard"] += n
        if how.startswith("queue:"):
            entry["went_on"][how[6:]] = entry["went_on"].get(how[6:], 0) + n
        else:
            entry[how] += n
    return found


def _notice_rows(db: Database) -> dict[str, tuple[str, bool]]:
    """Each kept notice's scope and switch, by id (none in a database from before notices,
    which has no call that heard one either)."""
    if "notices" not in db.tables():
        return {}
    return {str(r[0]): (str(r[1]), bool(r[2]))
            for r in db.read_all("SELECT id, scope, emergency FROM notices")}


def _paths(t: _Tally) -> list[dict[str, Any]]:
    """The most common paths into each queue, most used first."""
    by_queue: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for (queue, path), n in t.paths.items():
        by_queue.setdefault(queue, []).append((n, path))
    return [{"queue": queue, "path": list(path), "calls": n}
            for queue in sorted(by_queue)
            for n, path in sorted(by_queue[queue], key=lambda p: (-p[0], p[1]))[:TOP_PATHS]]


def _predict(queues: dict[str, dict[str, Any]], t: _Tally, centre: Any | None) -> None:
    """Beside each queue, Erlang A's abandonment and wait for the hours its calls arrived
    in, weighted by those calls (``None`` where the model has no answer)."""
    if centre is None:
        from ivr.queue.advice import Centre

        centre = Centre.load()
    for queue, entry in queues.items():
        weighted = {"p_abandon": 0.0, "held_wait_s": 0.0}
        calls = 0
        if queue in centre.queues:
            for (q, hour), n in t.arrivals.items():
                if q != queue:
                    continue
                metrics = centre.metrics(queue, datetime.fromtimestamp(hour * 3600, UTC))
                if not (math.isfinite(metrics.p_abandon) and math.isfinite(metrics.held_wait_s)):
                    continue
                weighted["p_abandon"] += metrics.p_abandon * n
                weighted["held_wait_s"] += metrics.held_wait_s * n
                calls += n
        entry["predicted"] = {
            "p_abandon": round(weighted["p_abandon"] / calls, 4) if calls else None,
            "held_wait_s": round(weighted["held_wait_s"] / calls, 1) if calls else None,
            "calls": calls,
        }
