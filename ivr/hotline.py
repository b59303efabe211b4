"""Everything a call needs, built once from the settings: menu, prompts, store, backend.

Shared by the app factory, the CLI and the simulator, so a lint, a demo and a real call
all load and validate the same tree the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from ivr.errors import ConfigError, MenuError, Problem
from ivr.flow import prompts, survey
from ivr.flow.call import CallEvent, CallState, LiveQueue, Step, Utterance
from ivr.flow.caller import after_queue, again, hold, step, takes_step
from ivr.flow.services import Services, Survey
from ivr.flow.speech import listener
from ivr.menu import Menu, load_validated
from ivr.menu.version import takes_b, tree_version
from ivr.phone import callable_number
from ivr.queue.advice import Centre
from ivr.records import complaints, outbox
from ivr.records.csat import StoreVerdicts
from ivr.records.database import Tx
from ivr.records.known import KnownCallers
from ivr.records.lockouts import LockoutPolicy, StoreLockouts
from ivr.records.notices import active as active_notices
from ivr.records.outbox import Outbox
from ivr.records.store import Store, StoredCall
from ivr.records.users import Users
from ivr.records.wallet import StoreWallet, seed_demo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Tree:
    """A validated tree as calls run on it: its version (``ivr.menu.version``) and file."""

    menu: Menu
    version: str
    file: str


@dataclass(frozen=True, slots=True)
class Hotline:
    """The loaded, validated IVR: answers events for calls."""

    catalog: prompts.Catalog
    store: Store
    wallet: StoreWallet
    lockouts: StoreLockouts
    centre: Centre
    settings: Mapping[str, Any]
    #: the console's users and the agents' roster
    users: Users
    #: what a caller's number called about lately (a keyed hash of it, never the number)
    known: KnownCallers
    #: the SMS follow-ups the calls wrote, until a sender sends them
    outbox: Outbox
    #: the survey after an agent, as the settings have it (``CSAT``, ``CSAT_COMMENT``), and
    #: where its answers are kept: made once, not on every webhook
    survey: Survey
    verdicts: StoreVerdicts
    #: the tree every call runs on, and the A/B trial's second tree with its share
    tree: Tree
    tree_b: Tree | None = None
    share_b: float = 0.0

    @property
    def menu(self) -> Menu:
        """The tree every call runs on but the A/B trial's share (``tree_for``)."""
        return self.tree.menu

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Hotline:
        """Load and validate everything; raise MenuError listing every problem."""
        catalog, centre, tree, tree_b = _loaded(
            settings["PROMPTS_DIR"], settings.get("TRAFFIC"), settings.get("MENU"),
            settings.get("MENU_B"), _signature(settings["PROMPTS_DIR"], settings.get("TRAFFIC"),
                                               settings.get("MENU"), settings.get("MENU_B")))
        unknown = sorted(set(settings.get("SPEECH_LANGUAGES") or ()) - set(catalog.languages))
        if unknown:
            raise ConfigError(
                f"invalid setting: SPEECH_LANGUAGES names {', '.join(map(repr, unknown))}, "
                f"which {'has' if len(unknown) == 1 else 'have'} no prompt file (the prompt "
                f"languages: {', '.join(catalog.languages)}); those callers could not speak")
        store = Store(settings["DATABASE"], state_ttl_s=settings["STATE_TTL_S"],
                      pool_size=settings["DATABASE_POOL"])
        wallet = StoreWallet(store, settings["PIN_HASH_N"])
        if settings.get("DEMO"):
            seed_demo(wallet, datetime.now(UTC))
        policy = LockoutPolicy(
            max_failures=settings["LOCKOUT_FAILURES"], window_s=settings["LOCKOUT_WINDOW_S"],
            lock_s=settings["LOCKOUT_S"], max_lock_s=settings["LOCKOUT_MAX_S"],
            hard_limit=settings["LOCKOUT_HARD_LIMIT"],
            caller_failures=settings["LOCKOUT_CALLER_FAILURES"],
            alert_failures=settings["LOCKOUT_ALERT_FAILURES"],
            alert_window_s=settings["LOCKOUT_ALERT_WINDOW_S"])
        lockouts = StoreLockouts(store, settings["SECRET_KEY"], policy)
        lockouts.record_key(datetime.now(UTC))  # which key support's commands must have
        known = KnownCallers(store, settings["SECRET_KEY"], settings["RETURNING_HOURS"])
        survey = Survey(question=bool(settings.get("CSAT", True)),
                        comment=bool(settings.get("CSAT_COMMENT", True)),
                        comment_s=int(settings.get("CSAT_COMMENT_S", 60)))
        return cls(catalog, store, wallet, lockouts, centre, settings,
                   Users(store, settings["PIN_HASH_N"]), known, Outbox(store), survey,
                   StoreVerdicts(store), tree, tree_b,
                   float(settings.get("MENU_B_SHARE") or 0) if tree_b else 0.0)

    def tree_for(self, call_sid: str, version: str | None = None) -> Tree:
        """The tree a call runs on: the one its record names, else chosen by its CallSid."""
        b = self.tree_b
        if b is None:
            return self.tree
        if version is not None and version in (self.tree.version, b.version):
            return b if version == b.version else self.tree
        return b if takes_b(call_sid, self.share_b) else self.tree

    def menu_of(self, stored: StoredCall | None, call_sid: str) -> Menu:
        return self.tree_for(call_sid, stored.version if stored else None).menu

    @property
    def listens(self) -> frozenset[str]:
        return frozenset(self.settings.get("SPEECH_LANGUAGES") or ())

    def services(self, now: datetime, turn: Turn | None = None,
                 notices: bool = True) -> Services:
        """What the flow needs; with ``turn``, whatever would act on the world (check a PIN,
        freeze an account, file a ticket, book a callback) takes the call's turn first;
        ``notices``: the incident notices active at ``now``, read from the database on
        every step, so one published on any host is said from the next step on, and one
        ended is said no more."""
        wallet, lockouts, callbacks = self.wallet, self.lockouts, self.store
        verdicts: Any = self.verdicts
        if turn is not None:
            wallet, lockouts, callbacks = (
                cast(Any, _Claiming(wallet, turn, ("freeze", "file_complaint"))),
                cast(Any, _Claiming(lockouts, turn, ("reserve", "settle"))),
                cast(Any, _Claiming(callbacks, turn, ("add_callback",))))
            verdicts = _Claiming(verdicts, turn, ("answered", "commented"))
        return Services(wallet, lockouts, self.catalog, now,
                        pin_tries_per_call=self.settings["PIN_TRIES_PER_CALL"],
                        complaint_reply_hours=self.settings["COMPLAINT_REPLY_HOURS"],
                        queues=self.centre, callbacks=callbacks,
                        wait_threshold_s=self.settings["WAIT_THRESHOLD_S"],
                        account_digits=self.settings["ACCOUNT_DIGITS"],
                        callbacks_per_day=self.settings["CALLBACKS_PER_DAY"],
                        lookups_per_call=self.settings["LOOKUPS_PER_CALL"],
                        listens=self.listens,
                        notices=active_notices(self.store, now) if notices else (),
                        history=self.known, survey=self.survey, verdicts=verdicts,
                        texts=self.outbox, texts_per_day=self.settings["SMS_PER_DAY"])

    def now(self) -> datetime:
        """The hotline's clock: the real one, or ``CLOCK`` (a callable) for replays."""
        clock = self.settings.get("CLOCK")
        return clock() if clock else datetime.now(UTC)

    def answer(self, event: CallEvent, now: datetime | None = None) -> Step:
        """Run one step of a call and keep its result, if the request may take a step.

        A request takes a step only when it carries the call's current turn and wins the
        compare-and-set on it: a replayed, stale or concurrent request hears the current
        prompt again and changes nothing, and a call Twilio reported ended takes none.

        The compare-and-set is made in the transaction that keeps the step, so a step costs
        one write; but a step that acts on the world (a PIN checked, a ticket filed) takes
        the turn before it acts (``Turn``), so of concurrent requests only one acts.
        """
        now = now or self.now()
        sid = event.call_sid
        stored = self.store.load_call(sid, now)
        fresh = CallState(sid, event.from_number, event.to_number,
                          lang=self.catalog.default_lang, turn=1)
        tree = self.tree_for(sid, stored.version if stored else None)
        caller_key = None
        if stored is None:
            state = fresh
            caller_key = self.known.key(event.from_number)
            turn = Turn(lambda: self.store.begin_call(fresh, now, tree.version, tree.file,
                                                      caller_key))
        elif stored.ended or (event.kind == "start" and stored.state is not None):
            return self._again(stored, now)
        elif stored.state is not None and event.turn != stored.turn:
            return self._again(stored, now)
        else:  # an expired state starts over
            state = replace(stored.state or fresh, turn=stored.turn + 1)
            turn = Turn(lambda: self.store.claim(sid, stored.turn))
        try:
            result = step(tree.menu, state, event, self.services(now, turn))
        except LostTurn:  # a concurrent request of the call took it
            return self._again(self.store.load_call(sid, now), now)
        kept = self.store.save_step(result, now, event.node or "(start)", claimed=turn.taken,
                                    version=tree.version, menu_file=tree.file,
                                    caller_key=caller_key)
        if not kept and not turn.taken:
            return self._again(self.store.load_call(sid, now), now)
        return result

    def _again(self, stored: StoredCall | None, now: datetime) -> Step:
        if stored is None or stored.state is None or stored.ended:
            state = stored.state if stored and stored.state else CallState("", turn=0)
            return Step(state, hangup=True)  # an ended call: nothing to say, nothing changes
        return again(self.menu_of(stored, stored.state.call_sid), stored.state,
                     self.services(now))

    def state_of(self, call_sid: str, now: datetime) -> CallState:
        return self.store.get_call(call_sid, now) or CallState(call_sid,
                                                               lang=self.catalog.default_lang)

    def lang_of(self, call_sid: str) -> str:
        return self.state_of(call_sid, self.now()).lang

    def hold(self, call_sid: str, queue: str, live: LiveQueue | None, now: datetime) -> Step:
        """The wait URL's words for this caller in the queue as Twilio reports it."""
        state = self.state_of(call_sid, now)
        return Step(state, tuple(hold(state, queue, live, self.services(now, notices=False))))

    def in_every_language(self, key: str) -> tuple[Utterance, ...]:
        """The prompt ``key`` in every language (the default first), each in its own voice:
        for a caller whose language is in the database, which may be what failed. Reads
        nothing but the catalog loaded at start."""
        catalog = self.catalog
        langs = dict.fromkeys((catalog.default_lang, *catalog.languages))
        return tuple(Utterance(key, catalog.text(lang, key), lang) for lang in langs)

    def fallback_words(self) -> tuple[Utterance, ...]:
        """The apology for the number's Fallback URL (``in_every_language``)."""
        return self.in_every_language("apology")

    def fallback_queue(self) -> str:
        """The queue where errors end (the tree's fallback node's), from the loaded tree."""
        return self.menu.nodes[self.menu.fallback].queue or "general"

    def move_ticket(self, number: str, to: str, *, actor: str, note: str,
                    results: dict[str, str] | None = None,
                    teams: tuple[str, ...] | None = None) -> complaints.Moved:
        """Move a complaint ticket along its workflow (``ivr.records.complaints.move``);
        a result sent is texted to the caller in their language, through the outbox, in
        the move's own transaction. MoveRefused says why a move is not made."""
        now = self.now()

        def text_the_result(db: Tx, moved: complaints.Moved) -> None:
            if moved.stage != "result_sent" or not callable_number(moved.caller or ""):
                return
            lang = moved.lang if moved.lang in self.catalog.languages else \
                self.catalog.default_lang
            result = (results or {})["zh-CN" if lang.startswith("zh") else "en-US"]
            body = self.catalog.text(lang, "sms_complaint_result", ticket=number,
                                     result=result.strip())
            # one text a result: the first, and one more after each dispute
            kind = "result" if moved.results == 1 else f"result-{moved.results}"
            if outbox.add_in(db, number=str(moved.caller), lang=lang, kind=kind, body=body,
                             call_sid=moved.call_sid, now=now,
                             max_per_day=int(self.settings["SMS_PER_DAY"])) is not None:
                db.execute("UPDATE tickets SET result_texted=1 WHERE number=?", (number,))

        moved = complaints.move(self.store, number, to, actor=actor, note=note, now=now,
                                reply_hours=float(self.settings["COMPLAINT_REPLY_HOURS"]),
                                results=results, teams=teams, also=text_the_result)
        log.info("%s, moved by %s", complaints.describe(moved), actor)
        return moved

    def recording_done(self, call_sid: str, recording_sid: str, recording_url: str,
                       duration_s: int | None, status: str) -> bool:
        """Twilio's recordingStatusCallback: complete the call's complaint ticket with the
        recording as processed (``Wallet.complete_recording``), or its survey comment
        (``StoreVerdicts.processed``). Not a step of the call: it may come after the call
        ended, and a replay writes the same values again."""
        done = self.wallet.complete_recording(call_sid, recording_sid, recording_url,
                                              duration_s, status) or \
            self.verdicts.processed(call_sid, recording_sid, recording_url, duration_s, status)
        if not done:
            log.warning("call %s: recording %s (%s) matches no complaint ticket nor survey "
                        "comment", call_sid, recording_sid or "?", status or "?")
        return done

    @staticmethod
    def _live(stored: StoredCall | None, turn: int | None) -> bool:
        """Whether a request of the wait loop may change the call: not after it ended,
        nor from another turn (URLs issued without a turn, by the apology, rely on the
        callback being booked once per call)."""
        return stored is not None and not stored.ended and turn in (None, stored.turn)

    def request_callback(self, call_sid: str, turn: int | None, now: datetime) -> bool:
        """The caller pressed 1 while holding; the Enqueue action will book it. False when
        the caller's number is withheld: no callback, they keep their place."""
        stored = self.store.load_call(call_sid, now)
        if stored and stored.state and not callable_number(stored.state.from_number):
            return False
        state = stored.state if stored and self._live(stored, turn) else None
        if state and state.node:
            self.store.save_step(Step(replace(state, data={**state.data, "leaving": True}),
                                      logged_input="1", choice="callback"), now, "(hold)")
        return True

    def queue_done(self, call_sid: str, result: str, turn: int | None, now: datetime,
                   call_status: str = "") -> Step:
        """The Enqueue action: the callback asked for while holding, an offer when the queue
        was full, the fallback queue after an error, the survey once the agent hung up, or
        goodbye once the caller is gone.

        A result that moves the call on takes the call's turn by compare-and-set, as
        ``answer`` does, so a replayed or concurrent request changes nothing more.
        """
        stored = self.store.load_call(call_sid, now)
        if not self._live(stored, turn):  # a replay after the call or its turn: no change
            return self._again(stored, now)
        assert stored is not None
        self.store.set_queue_result(call_sid, result)
        state = stored.state
        if state is not None and result == "bridged" and call_status not in ENDED and \
                self.survey.on:
            return self._survey(call_sid, stored.turn, state, now)
        if state is not None and result in ("redirected", "bridging-in-process"):
            # the call runs the document it was redirected to, or is being put through:
            # what this answers is not played (should it be, the caller is still queued)
            return again(self.menu_of(stored, call_sid), state, self.services(now))
        if state is not None and takes_step(result, state):
            if not self.store.claim(call_sid, stored.turn):
                return self._again(self.store.load_call(call_sid, now), now)
            outcome = after_queue(self.menu_of(stored, call_sid),
                                  replace(state, turn=stored.turn + 1), result,
                                  self.services(now))
            self.store.save_step(outcome, now, "(queue-done)")
            return outcome
        state = state or self.state_of(call_sid, now)
        bye = self.catalog.text(state.lang, "goodbye")
        return Step(state, (Utterance("goodbye", bye, state.lang),), hangup=True)

    def _survey(self, call_sid: str, at_turn: int, state: CallState, now: datetime) -> Step:
        """The agent hung up and the caller is still on the line: Twilio asks the Enqueue
        action "when the bridged parties disconnect", and runs what it answers on the
        caller's leg, which has no other verb left
        (https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action). The agent's
        own ``<Dial>`` action (``/agent/dial-done``) runs on the agent's leg and cannot
        speak to the caller: it keeps the talk time only. A caller who hung up first
        makes the action come with a final CallStatus, and is not asked."""
        if not self.store.claim(call_sid, at_turn):
            return self._again(self.store.load_call(call_sid, now), now)
        outcome = survey.after_agent(replace(state, turn=at_turn + 1), self.services(now))
        assert outcome is not None  # the survey is on
        self.store.save_step(outcome, now, "(queue-done)")
        self.verdicts.asked(call_sid, now)
        return outcome


#: Twilio's CallStatus values of a call that is over (``/voice/status``)
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class LostTurn(Exception):
    """The call's turn went to a concurrent request before this one acted."""


class Turn:
    """A step's turn of its call, taken (by ``take``, a compare-and-set) only when the step
    first acts on the world; a step that only answers takes it as it is kept."""

    def __init__(self, claim: Callable[[], bool]) -> None:
        self._claim = claim
        self.taken = False

    def take(self) -> None:
        """Take the turn, once; raise ``LostTurn`` when another request has it."""
        if not self.taken:
            if not self._claim():
                raise LostTurn
            self.taken = True


class _Claiming:
    """``inner`` whose methods named in ``acts`` take the call's ``turn`` before they run."""

    def __init__(self, inner: object, turn: Turn, acts: tuple[str, ...]) -> None:
        self._inner, self._turn, self._acts = inner, turn, acts

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name not in self._acts:
            return found

        def acting(*args: Any, **kwargs: Any) -> Any:
            self._turn.take()
            return found(*args, **kwargs)

        return acting


@lru_cache(maxsize=4)
def _loaded(prompts_dir: str, traffic: str | None, menu: str | None, menu_b: str | None,
            signature: tuple[Any, ...]) -> tuple[prompts.Catalog, Centre, Tree, Tree | None]:
    """The catalog, the centre's week and the trees, read and validated; raise MenuError.

    Kept for as long as the files are unchanged (``signature``): a process that makes many
    apps of the same files (the simulator's workers, a test run) reads them once. What it
    returns is frozen, so apps sharing it cannot change each other's.
    """
    catalog = prompts.load(prompts_dir)
    problems = catalog.problems()
    if problems:
        raise MenuError(problems, "prompts")
    centre = Centre.load(traffic)
    tree = _tree(menu, catalog, centre)
    return catalog, centre, tree, _tree(menu_b, catalog, centre) if menu_b else None


def _signature(*places: str | None) -> tuple[Any, ...]:
    """Each file's path, time of change and size (a folder's ``*.yaml`` files; the
    shipped file for None): what says the files read before are still the same."""
    seen: list[Any] = []
    for place in places:
        if place is None:
            seen.append(None)
            continue
        path = Path(place)
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            try:
                stat = file.stat()
            except OSError:  # the loader says what is wrong with it
                seen.append((str(file), None))
                continue
            seen.append((str(file.resolve()), stat.st_mtime_ns, stat.st_size))
    return tuple(seen)


def _tree(path: str | None, catalog: prompts.Catalog, centre: Centre) -> Tree:
    """Load and validate a tree, and check its queues are modelled; raise MenuError."""
    menu = load_validated(path, catalog)
    unmodelled = [Problem(f"{menu.source} queues", f"queue '{q}' is not in the traffic "
                                                  f"file {centre.traffic.source}")
                  for q in menu.queues if q not in centre.queues]
    if unmodelled:
        raise MenuError(unmodelled, menu.source)
    listener(menu)  # the Mandarin tables load now, not during the first caller's menu
    return Tree(menu, tree_version(path, catalog.texts), menu.source)
