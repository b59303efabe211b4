"""A circuit breaker at the database's edge: while the server is known to be down, a
request fails at once instead of waiting for a connection that will not come.

Without it every request of an outage waits the pool's whole wait (10 s) before its
apology; a server's threads fill with waiting requests and the ones queued behind them
answer after Twilio's 15 s, when the caller already hears Twilio's application error.

A failure that may mean the server is away (no connection within a moment, a connection
lost) makes the breaker *suspect* it: its probe, one daemon thread per process, connects
afresh. When that fails the circuit opens, and ``check`` refuses every request with
``StoreUnreachable`` (which the webhooks answer with the apology, without asking the
database anything more). The probe tries again every ``PROBE_EVERY_S`` and closes the
circuit when the server answers, so the line comes back by itself. A suspicion the probe
clears (a pool busy under load, not a server away) costs one connection and no request.

No driver here: the probe is the database's function; this module holds the state, the
thread and the timing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from ivr.errors import StoreUnreachable

log = logging.getLogger(__name__)

#: how often the probe asks a server that is down (and at most how often it asks at all)
PROBE_EVERY_S = 1.0


class Breaker:
    """The circuit of one database in one process; ``answers`` connects afresh and says
    whether the server answered."""

    def __init__(self, where: str, answers: Callable[[], bool], *,
                 every_s: float = PROBE_EVERY_S,
                 on_close: Callable[[], None] | None = None) -> None:
        self.where, self._answers, self.every_s = where, answers, every_s
        self._on_close = on_close
        self._down_since: float | None = None  # time.time() of the probe that found it down
        self._wake = threading.Event()  # a suspicion to check, or the circuit open
        self._stopped = threading.Event()  # the running probe's: set, it ends
        self._guard = threading.Lock()
        self._probed = threading.Condition()  # notified after each probe
        self._probes = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def open(self) -> bool:
        """Whether the server is known to be down (requests fail at once)."""
        return self._down_since is not None

    def check(self) -> None:
        """Raise ``StoreUnreachable`` at once while the circuit is open."""
        down_since = self._down_since
        if down_since is None:
            return
        self._ensure_probe()  # a process forked while it was open has no probe of its own
        raise StoreUnreachable(
            f"the database {self.where} is down (no answer since "
            f"{time.strftime('%H:%M:%S', time.localtime(down_since))}; asked again every "
            f"{self.every_s:g} s)")

    def suspect(self, wait_s: float = 0.0) -> None:
        """A failure that may mean the server is away: have the probe ask it now, and
        wait up to ``wait_s`` for its answer (a refused connection takes a millisecond),
        so that the request asking learns at once that the server is down."""
        self._ensure_probe()
        with self._probed:
            seen = self._probes
            self._wake.set()
            if wait_s > 0:
                self._probed.wait_for(lambda: self._probes != seen, timeout=wait_s)

    def stop(self) -> None:
        """End the probe (the database closed; a later suspicion starts another)."""
        with self._guard:
            self._stopped.set()
            self._thread = None
        self._wake.set()

    def _ensure_probe(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._guard:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._stopped = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stopped,),
                                                daemon=True, name=f"ivr-db-probe {self.where}")
                self._thread.start()

    def _run(self, stopped: threading.Event) -> None:
        while True:
            self._wake.wait()
            if stopped.is_set():
                return
            try:
                answered = self._answers()
            except Exception:  # noqa: BLE001 - a probe that breaks must not end the thread
                log.exception("the probe of database %s failed", self.where)
                answered = False
            if answered:
                self._close()
            elif self._down_since is None:
                self._down_since = time.time()
                log.error("database %s is down: requests fail at once until it answers "
                          "(asked every %g s)", self.where, self.every_s)
            with self._probed:
                self._probes += 1
                self._probed.notify_all()
            # at most one connection a second, however many requests suspect the server
            if stopped.wait(self.every_s):
                return

    def _close(self) -> None:
        self._wake.clear()  # a suspicion raised before this answer is answered by it
        if self._down_since is None:
            return
        if self._on_close is not None:
            self._on_close()  # before requests come back: e.g. a fresh pool
        log.warning("database %s answers again after %.0f s", self.where,
                    time.time() - self._down_since)
        self._down_since = None
