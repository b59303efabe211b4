"""Where simulated calls go, and what the simulator may read back afterwards.

A ``Target`` is the hotline as the simulator sees it: the Voice URL, a transport, the
token to sign with, and, when the app runs in this process, its call records (to check
``verified``), its menu (to find the language keys) and a way to put its database back
as it was (so scenarios and replays do not leak lockouts or frozen accounts into each
other). ``sandbox()`` builds one on the demo data in a throwaway database; ``over_http``
points at a running ``ivr serve``.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from ivr.audio.timing import AudioDurations, PlayDuration
from ivr.flow.prompts import Catalog, placeholders
from ivr.sim.caller import Caller, Pace
from ivr.sim.interpreter import DEFAULT_FROM, DEFAULT_TO, CallOptions, Hold, simulate
from ivr.sim.messages import MessagesAPI, Text
from ivr.sim.recognition import Recognition
from ivr.sim.switchboard import Switchboard
from ivr.sim.trace import Trace
from ivr.sim.transport import FlaskTransport, HTTPTransport, Transport

if TYPE_CHECKING:
    from flask import Flask

    from ivr.menu import Menu

log = logging.getLogger(__name__)

#: the token in-process calls are signed with: the sandbox app checks it like any other
SIM_TOKEN = "ivr-sim-token"
LOCAL_BASE = "http://localhost"
FAST_PIN_N = 2**4


@dataclass(frozen=True, slots=True)
class Target:
    """The hotline as the simulator reaches it."""

    voice_url: str
    transport: Transport
    token: str
    status_callback: str | None = None
    play_duration_s: PlayDuration | None = None
    menu: Menu | None = None
    records: Callable[[str], Mapping[str, Any] | None] | None = None
    #: the app's log of a call (its ``call_events`` rows, in order), when readable
    events: Callable[[str], list[dict[str, Any]]] | None = None
    prompts: Prompts | None = None
    reset: Callable[[], None] | None = None
    clock: SimClock | None = None
    zone: tzinfo = UTC
    quiet_at: datetime | None = None  # a moment every queue is open with a short wait
    extensions: dict[str, Any] = field(default_factory=dict)
    #: publishes incident notices (``{scope, text, emergency}``) around a moment, when the
    #: app runs in this process (``ivr.records.notices``)
    publish: Callable[[Sequence[Mapping[str, Any]], datetime], None] | None = None
    #: the queues its calls share: a caller parked there, an agent's call takes
    switchboard: Switchboard = field(default_factory=Switchboard)
    #: the texts the app sent for a call, through the simulator's Messages API
    #: (``ivr.sim.messages``), when the app runs in this process
    texts: Callable[[str], list[Text]] | None = None

    def call(
        self,
        caller: Caller,
        *,
        from_: str = DEFAULT_FROM,
        to: str = DEFAULT_TO,
        hold: Hold | None = None,
        pace: Pace | None = None,
        call_sid: str | None = None,
        url: str | None = None,
        recognition: Recognition | None = None,
    ) -> Trace:
        """One simulated call to the hotline's Voice URL (or ``url``, a path on it, such
        as the agents' ``/agent/voice``).

        In this process the app's clock follows the call's simulated time (``SimClock``),
        so what it logs (each step's time, the time to queue) is what the trace says; a
        call made while another is parked on the switchboard begins as that one parked.
        """
        clock = self.clock
        offset_s = self.switchboard.parked_s
        tick = None if clock is None else (lambda s: clock.tick(offset_s + s))
        options = CallOptions(
            from_=from_,
            to=to,
            call_sid=call_sid,
            hold=hold or Hold(),
            pace=pace or Pace(),
            status_callback=self.status_callback,
            play_duration_s=self.play_duration_s,
            # the PIN and account prompts are known by their words: mask what answers them
            prompt_keys=self.prompt_keys if self.prompts else None,
            tick=tick,
            switchboard=self.switchboard,
            recognition=recognition or Recognition(),
        )
        if clock is not None:
            clock.begin()
        try:
            return simulate(
                urljoin(self.voice_url, url) if url else self.voice_url,
                transport=self.transport,
                token=self.token,
                caller=caller,
                options=options,
            )
        finally:
            if clock is not None:
                clock.end()

    def set_clock(self, moment: datetime | None) -> None:
        """Calls from now on happen at ``moment`` (None: the real time), when the target
        runs in this process; over HTTP the server keeps its own clock."""
        if self.clock is not None:
            self.clock.at = moment
        elif moment is not None:
            log.warning("the target's clock cannot be set; calls happen at the server's time")

    def record(self, call_sid: str) -> Mapping[str, Any] | None:
        """The app's record of a call (None when the simulator cannot read the store)."""
        return self.records(call_sid) if self.records else None

    def logged(self, call_sid: str) -> list[dict[str, Any]] | None:
        """The app's log of a call's steps (None when the simulator cannot read it)."""
        return self.events(call_sid) if self.events else None

    def language_keys(self) -> dict[str, str]:
        """Language -> the key that picks it at the start of a call, e.g. en-US -> 2."""
        return language_keys(self.menu) if self.menu else {}

    def heard(self, event: Mapping[str, Any]) -> str:
        """What a say or play event sounds like, as text: a played prompt's words if known."""
        if event.get("text"):
            return str(event["text"])
        url = str(event.get("url") or "")
        text = self.prompts.text(url) if self.prompts and url else None
        return text or url or str(event.get("digits") or "")

    def prompt_keys(self, event: Mapping[str, Any]) -> set[str]:
        """Which prompts (``lang/key``) a say or play event is."""
        return self.prompts.keys(event) if self.prompts else set()


def language_keys(menu: Menu) -> dict[str, str]:
    """The first menu from the start whose options set a language, as language -> key."""
    node, seen = menu.nodes.get(menu.start), set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        keys = {o.lang: o.key for o in node.options if o.lang}
        if keys:
            return keys
        node = menu.nodes.get(node.next or "")
    return {}


def for_app(app: Flask, token: str | None = None, keep_records: bool = False) -> Target:
    """The app in this process, through its test client; ``keep_records``: its reset
    between scenarios keeps the call records (see ``_Snapshot``).

    Unless the app already has a ``CLOCK``, a ``SimClock`` is installed so scenarios and
    replays can say when a call happens (opening hours and waits depend on it).
    """
    base = str(app.config.get("PUBLIC_URL") or LOCAL_BASE).rstrip("/")
    hotline = app.extensions["ivr"]
    audio_dir = Path(app.config.get("AUDIO_DIR") or AudioDurations().audio_dir)
    clock = app.config.get("CLOCK")
    if clock is None:
        clock = app.config["CLOCK"] = SimClock()
    snapshot = _Snapshot(hotline.store.db, keep_records)
    return Target(
        voice_url=f"{base}/voice",
        transport=FlaskTransport(app, base),
        token=token or app.config.get("TWILIO_AUTH_TOKEN") or SIM_TOKEN,
        status_callback=f"{base}/voice/status",
        play_duration_s=AudioDurations(audio_dir),
        menu=hotline.menu,
        records=hotline.store.call,
        events=lambda sid: app.extensions["ivr"].store.events(sid),
        prompts=Prompts(audio_dir, hotline.catalog),
        reset=snapshot.restore,
        clock=clock if isinstance(clock, SimClock) else None,
        zone=hotline.centre.traffic.zone,
        quiet_at=quiet_moment(hotline, datetime.now(UTC), app.config["WAIT_THRESHOLD_S"]),
        extensions={"app": app},
        publish=_publisher(hotline),
        texts=_texts(app),
    )


def _texts(app: Flask) -> Callable[[str], list[Text]]:
    """The texts the app sent for a call: its sender's pass after the call (what ``ivr
    serve`` does in the background) posts the outbox to the simulator's Messages API."""
    from ivr.app import send_texts

    api = MessagesAPI()

    def sent(call_sid: str) -> list[Text]:
        outbox = app.extensions["ivr"].outbox
        written = outbox.messages(call_sid=call_sid)
        # the call's simulated time runs ahead of the clock once it is over: its texts are
        # due at its end, which is when the pass runs
        clock = app.config["CLOCK"]
        send_texts(app, api, max([clock(), *(m.created_at for m in written)]))
        messages = outbox.messages(call_sid=call_sid)
        return [api.sent[m.message_sid] for m in reversed(messages)
                if m.message_sid in api.sent]
    return sent


#: a scenario's notices are said from this long before its moment ...
NOTICE_BEFORE = timedelta(hours=1)
#: ... to this long after it
NOTICE_AFTER = timedelta(days=1)


def _publisher(hotline: Any) -> Callable[[Sequence[Mapping[str, Any]], datetime], None]:
    """Publish notices on the app's own database, as ``ivr notice add`` would (MenuError
    listing what is wrong with one), active around the moment given."""
    def publish(specs: Sequence[Mapping[str, Any]], at: datetime) -> None:
        from ivr.flow.notices import Notice, read_scope
        from ivr.records import notices

        menus = [hotline.tree.menu, *([hotline.tree_b.menu] if hotline.tree_b else [])]
        for spec in specs:
            notice = Notice(0, dict(spec["text"]), read_scope(str(spec["scope"])),
                            at - NOTICE_BEFORE, at + NOTICE_AFTER, bool(spec.get("emergency")))
            notices.publish(hotline.store, notice, menus=menus,
                            languages=hotline.catalog.languages, now=at, actor="scenario")
    return publish


class SimClock:
    """The sandbox hotline's clock (its ``CLOCK`` setting): a set moment, or real time,
    and during a simulated call that call's start plus its simulated time.

    Without this the app would log every step of a simulated call at one instant (the
    set moment) or a few milliseconds apart (real time), while the simulator says the
    caller spent two minutes reaching the queue: ``ivr replay --calls`` then compared a
    recorded time to queue of 0 s with a replayed one of 117 s.
    """

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at
        self._start: datetime | None = None  # of the call running
        self._elapsed_s = 0.0

    def __call__(self) -> datetime:
        if self._start is not None:
            return self._start + timedelta(seconds=self._elapsed_s)
        return self.at.astimezone(UTC) if self.at else datetime.now(UTC)

    def begin(self) -> None:
        """A call starts now (at the set moment, or the real time)."""
        self._start, self._elapsed_s = None, 0.0
        self._start = self()

    def tick(self, elapsed_s: float) -> None:
        """The running call is ``elapsed_s`` seconds old (``CallOptions.tick``)."""
        self._elapsed_s = elapsed_s

    def end(self) -> None:
        self._start, self._elapsed_s = None, 0.0


def quiet_moment(hotline: Any, start: datetime, threshold_s: float, days: int = 14) -> datetime:
    """The first half past the hour from ``start`` when every queue of the menu is open
    and its expected wait under ``threshold_s``: scenarios then hear no callback offer."""
    moment = start.replace(minute=30, second=0, microsecond=0)
    centre, queues = hotline.centre, hotline.menu.queues
    for _ in range(days * 24):
        if all(
            centre.is_open(q, moment) and centre.expected_wait_s(q, moment) <= threshold_s
            for q in queues
        ):
            return moment
        moment += timedelta(hours=1)
    log.warning("no quiet hour in the %d days from %s; using that time", days, start)
    return start


def over_http(
    url: str, token: str, *, menu_path: str | None = None, database: str | None = None
) -> Target:
    """A running server: ``url`` is its Voice URL, or its base URL (``/voice`` is added)."""
    from ivr.flow import prompts
    from ivr.menu import load_validated
    from ivr.records.store import Store

    parts = urlsplit(url)
    voice_url = url if parts.path.strip("/") else url.rstrip("/") + "/voice"
    catalog = prompts.load()
    store = Store(database) if database else None
    return Target(
        voice_url=voice_url,
        transport=HTTPTransport(),
        token=token,
        status_callback=voice_url.rstrip("/") + "/status",
        play_duration_s=AudioDurations(),
        menu=load_validated(menu_path, catalog),
        records=store.call if store else None,
        events=store.events if store else None,
        prompts=Prompts(AudioDurations().audio_dir, catalog),
    )


@contextmanager
def sandbox(
    menu: str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    fast_pins: bool = True,
    keep_records: bool = False,
) -> Iterator[Target]:
    """A fresh app on the demo accounts, in a throwaway database, signed with SIM_TOKEN.

    :param fast_pins: store the demo PINs with a tiny scrypt work factor. The flow, the
        lockouts and the comparison are unchanged (the cost is read from each stored
        hash), but a bulk run is no longer 60 ms of key stretching per PIN typed.
    """
    from ivr.app import create_app
    from ivr.records.users import seed_demo_agent

    with tempfile.TemporaryDirectory(prefix="ivr-sim-") as tmp:
        config: dict[str, Any] = {
            "TESTING": True,
            "DEMO": True,
            "TWILIO_AUTH_TOKEN": SIM_TOKEN,
            "DATABASE": str(Path(tmp) / "sim.db"),
            **({"MENU": str(menu)} if menu else {}),
            **({"PIN_HASH_N": FAST_PIN_N} if fast_pins else {}),
            **(settings or {}),
        }
        app = create_app(config)
        hotline = app.extensions["ivr"]
        seed_demo_agent(hotline.users, hotline.menu.queues, datetime.now(UTC))
        try:
            yield for_app(app, keep_records=keep_records)
        finally:
            app.extensions["ivr"].store.close()


class _Snapshot:
    """The database as it was when the target was made, to go back to between scenarios.

    Everything a call can change goes back (accounts, lockouts, tickets, callbacks). With
    ``keep_records`` the call records (``RECORDS``) are kept: ``ivr replay --db`` leaves
    every call of the replay in the file for ``ivr report`` (a CallSid used twice is
    then a replay of the first call, as with Twilio); but who made them is forgotten
    (``calls.caller_key``), so a scenario's caller is not known by another's calls
    (``ivr.records.known``), as they are not locked out by them.
    """

    RECORDS = ("calls", "call_events")

    def __init__(self, db: sqlite3.Connection, keep_records: bool = False) -> None:
        self.db, self.keep_records = db, keep_records
        self.copy = sqlite3.connect(":memory:", check_same_thread=False)
        db.backup(self.copy)
        self.tables = [r[0] for r in self.copy.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
            if r[0] not in self.RECORDS]

    def restore(self) -> None:
        if not self.keep_records:
            self.copy.backup(self.db)
            return
        rows = {t: self.copy.execute(f"SELECT * FROM {t}").fetchall() for t in self.tables}
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, kept in rows.items():
                db.execute(f"DELETE FROM {table}")
                if kept:
                    marks = ", ".join("?" * len(kept[0]))
                    db.executemany(f"INSERT INTO {table} VALUES ({marks})", kept)
            db.execute("UPDATE calls SET caller_key=NULL WHERE caller_key IS NOT NULL")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


class Prompts:
    """Which catalog prompt a say or play event is, and a played prompt's words.

    A play is found through the audio manifest (its file), a say by its text: exactly for
    a fixed prompt, by pattern for one with ``{placeholders}``. Keys are ``lang/key``.
    """

    def __init__(self, audio_dir: Path, catalog: Catalog) -> None:
        self.catalog = catalog
        self.files: dict[str, tuple[str, str]] = {}
        self.fixed: dict[str, set[str]] = {}
        self.patterns: list[tuple[re.Pattern[str], str]] = []
        for lang, texts in catalog.texts.items():
            for key, raw in texts.items():
                if placeholders(raw):
                    parts = re.split(r"\{[^{}]*\}", raw.replace("{{", "{").replace("}}", "}"))
                    pattern = ".+?".join(re.escape(p) for p in parts)
                    self.patterns.append((re.compile(pattern + r"\Z", re.DOTALL), f"{lang}/{key}"))
                else:
                    self.fixed.setdefault(raw, set()).add(f"{lang}/{key}")
        try:
            data = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for lang, entries in (data.get("prompts") or {}).items():
            for key, entry in entries.items():
                if isinstance(entry, dict) and "file" in entry:
                    self.files[str(entry["file"])] = (lang, key)

    def _file(self, url: str) -> tuple[str, str] | None:
        path = unquote(urlsplit(url).path)
        if "/audio/" not in path:
            return None
        name = path.split("/audio/", 1)[1]
        if name in self.files:
            return self.files[name]
        # a server's audio this manifest does not list (over HTTP): <lang>/<key>.wav
        lang, _, file = name.rpartition("/")
        key = file.rsplit(".", 1)[0]
        return (lang, key) if "/" not in lang and self.catalog.has(lang, key) else None

    def text(self, url: str) -> str | None:
        """The words of the prompt a play URL plays, if it is one."""
        found = self._file(url)
        if found is None or not self.catalog.has(*found):
            return None
        return self.catalog.raw(*found)

    def keys(self, event: Mapping[str, Any]) -> set[str]:
        """The ``lang/key`` names the event may be (a text can be in several languages)."""
        if event.get("url"):
            found = self._file(str(event["url"]))
            return {f"{found[0]}/{found[1]}"} if found else set()
        text = str(event.get("text") or "")
        if text in self.fixed:
            return set(self.fixed[text])
        return {name for pattern, name in self.patterns if pattern.match(text)}
