"""Everything a call needs, built once from the settings: menu, prompts, store, backend.

Shared by the app factory, the CLI and the simulator, so a lint, a demo and a real call
all load and validate the same tree the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ivr import prompts
from ivr.backend import Services
from ivr.call import CallEvent, CallState, Step, Utterance
from ivr.errors import MenuError, Problem
from ivr.flow import hold, left_queue, step
from ivr.menu import Menu, load_validated
from ivr.queue.advice import Centre
from ivr.store import Store
from ivr.wallet import LockoutPolicy, SQLiteLockouts, SQLiteWallet, seed_demo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hotline:
    """The loaded, validated IVR: answers events for calls."""

    menu: Menu
    catalog: prompts.Catalog
    store: Store
    wallet: SQLiteWallet
    lockouts: SQLiteLockouts
    centre: Centre
    settings: Mapping[str, Any]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Hotline:
        """Load and validate everything; raise MenuError listing every problem."""
        catalog = prompts.load(settings["PROMPTS_DIR"])
        problems = catalog.problems()
        if problems:
            raise MenuError(problems, "prompts")
        menu = load_validated(settings.get("MENU"), catalog)
        centre = Centre.load(settings.get("TRAFFIC"))
        unmodelled = [Problem(f"{menu.source} queues", f"queue '{q}' is not in the traffic "
                                                      f"file {centre.traffic.source}")
                      for q in menu.queues if q not in centre.queues]
        if unmodelled:
            raise MenuError(unmodelled, menu.source)
        store = Store(settings["DATABASE"], state_ttl_s=settings["STATE_TTL_S"])
        wallet = SQLiteWallet(store, settings["PIN_HASH_N"])
        if settings.get("DEMO"):
            seed_demo(wallet, datetime.now(UTC))
        policy = LockoutPolicy(settings["LOCKOUT_FAILURES"], settings["LOCKOUT_WINDOW_S"],
                               settings["LOCKOUT_S"])
        return cls(menu, catalog, store, wallet, SQLiteLockouts(store, policy), centre, settings)

    def services(self, now: datetime) -> Services:
        return Services(self.wallet, self.lockouts, self.catalog, now,
                        pin_tries_per_call=self.settings["PIN_TRIES_PER_CALL"],
                        complaint_reply_hours=self.settings["COMPLAINT_REPLY_HOURS"],
                        queues=self.centre, callbacks=self.store,
                        wait_threshold_s=self.settings["WAIT_THRESHOLD_S"])

    def now(self) -> datetime:
        """The hotline's clock: the real one, or ``CLOCK`` (a callable) for replays."""
        clock = self.settings.get("CLOCK")
        return clock() if clock else datetime.now(UTC)

    def answer(self, event: CallEvent, now: datetime | None = None) -> Step:
        """Run one step of a call and keep its result."""
        now = now or self.now()
        state = self.store.get_call(event.call_sid, now) if event.kind != "start" else None
        if state is None:
            state = CallState(event.call_sid, event.from_number, event.to_number,
                              lang=self.catalog.default_lang)
        result = step(self.menu, state, event, self.services(now))
        self.store.save_step(result, now, event.node or "(start)")
        return result

    def state_of(self, call_sid: str, now: datetime) -> CallState:
        return self.store.get_call(call_sid, now) or CallState(call_sid,
                                                               lang=self.catalog.default_lang)

    def lang_of(self, call_sid: str) -> str:
        return self.state_of(call_sid, self.now()).lang

    def hold(self, call_sid: str, queue: str, position: int, now: datetime) -> Step:
        """The wait URL's words for this caller at this place in the queue."""
        state = self.state_of(call_sid, now)
        return Step(state, tuple(hold(state, queue, position, self.services(now))))

    def request_callback(self, call_sid: str, now: datetime) -> None:
        """The caller pressed 1 while holding; the Enqueue action will book it."""
        state = self.state_of(call_sid, now)
        if state.node:
            self.store.save_step(Step(replace(state, data={**state.data, "leaving": True}),
                                      logged_input="1"), now, "(hold)")

    def queue_done(self, call_sid: str, result: str, now: datetime) -> Step:
        """The Enqueue action: book the callback asked for while holding, or say goodbye."""
        self.store.set_queue_result(call_sid, result)
        state = self.state_of(call_sid, now)
        if result == "leave" and state.data.get("leaving"):
            outcome = left_queue(replace(state, data={**state.data, "leaving": False}),
                                 self.services(now))
            self.store.save_step(outcome, now, "(queue-done)")
            return outcome
        bye = self.catalog.text(state.lang, "goodbye")
        return Step(state, (Utterance("goodbye", bye, state.lang),), hangup=True)
