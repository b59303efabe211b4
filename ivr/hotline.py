"""Everything a call needs, built once from the settings: menu, prompts, store, backend.

Shared by the app factory, the CLI and the simulator, so a lint, a demo and a real call
all load and validate the same tree the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ivr import prompts
from ivr.call import CallEvent, CallState, Step
from ivr.errors import MenuError
from ivr.flow import Services, step
from ivr.menu import Menu, load_validated
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
    settings: Mapping[str, Any]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Hotline:
        """Load and validate everything; raise MenuError listing every problem."""
        catalog = prompts.load(settings["PROMPTS_DIR"])
        problems = catalog.problems()
        if problems:
            raise MenuError(problems, "prompts")
        menu = load_validated(settings.get("MENU"), catalog)
        store = Store(settings["DATABASE"], state_ttl_s=settings["STATE_TTL_S"])
        if settings.get("DEMO"):
            seed_demo(store, datetime.now(UTC))
        policy = LockoutPolicy(settings["LOCKOUT_FAILURES"], settings["LOCKOUT_WINDOW_S"],
                               settings["LOCKOUT_S"])
        return cls(menu, catalog, store, SQLiteWallet(store), SQLiteLockouts(store, policy),
                   settings)

    def services(self, now: datetime) -> Services:
        return Services(self.wallet, self.lockouts, self.catalog, now,
                        pin_tries_per_call=self.settings["PIN_TRIES_PER_CALL"],
                        complaint_reply_hours=self.settings["COMPLAINT_REPLY_HOURS"])

    def answer(self, event: CallEvent, now: datetime | None = None) -> Step:
        """Run one step of a call and keep its result."""
        now = now or datetime.now(UTC)
        state = self.store.get_call(event.call_sid, now) if event.kind != "start" else None
        if state is None:
            state = CallState(event.call_sid, event.from_number, event.to_number,
                              lang=self.catalog.default_lang)
        result = step(self.menu, state, event, self.services(now))
        self.store.save_step(result, now, event.node or "(start)")
        return result

    def lang_of(self, call_sid: str) -> str:
        state = self.store.get_call(call_sid, datetime.now(UTC))
        return state.lang if state else self.catalog.default_lang
