"""The schema's numbered versions, applied in order on either backend.

A database records the migrations applied to it in ``schema_version``. One from a
release before versions has none recorded: its tables are brought to version 1 in
place (the baseline only creates what is missing and adds the columns it lacks), and
then the rest are applied. Each migration runs in its own transaction with the version
it brings, under the schema lock, so two hosts starting at once apply it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ivr.errors import StoreError
from ivr.records.database import Database, Tx, not_ivr

#: the tables as release 0.15 made them (the baseline: version 1)
BASELINE = """
CREATE TABLE IF NOT EXISTS calls (
    call_sid TEXT PRIMARY KEY, from_number TEXT, to_number TEXT,
    started_at TEXT NOT NULL, updated_at TEXT NOT NULL, ended_at TEXT, status TEXT,
    duration_s INTEGER, lang TEXT, node TEXT, verified INTEGER NOT NULL DEFAULT 0,
    account_last4 TEXT, issue TEXT, queue TEXT, queue_result TEXT, details TEXT,
    state TEXT NOT NULL, turn INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_sid TEXT NOT NULL, at TEXT NOT NULL,
    node TEXT, input TEXT, said TEXT, outcome TEXT
);
CREATE INDEX IF NOT EXISTS call_events_sid ON call_events (call_sid, id);
-- calls whose end Twilio has not reported: the ones an expired state is scrubbed from
CREATE INDEX IF NOT EXISTS calls_open ON calls (updated_at) WHERE ended_at IS NULL;
-- the lockout book (ivr.records.lockouts): keyed hashes of accounts and caller IDs, never the
-- numbers; a check is 'pending' from before its PIN is hashed until it is settled
CREATE TABLE IF NOT EXISTS pin_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account_key TEXT NOT NULL,
    caller_key TEXT NOT NULL, at TEXT NOT NULL, outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pin_attempts_account ON pin_attempts (account_key, at);
CREATE INDEX IF NOT EXISTS pin_attempts_caller ON pin_attempts (caller_key, at);
CREATE INDEX IF NOT EXISTS pin_attempts_at ON pin_attempts (at);
CREATE TABLE IF NOT EXISTS pin_locks (
    key TEXT PRIMARY KEY, counted_from TEXT NOT NULL, locks INTEGER NOT NULL DEFAULT 0,
    last_success TEXT, locked_until TEXT
);
-- earlier releases kept full account numbers (and mistyped PINs) here
DROP TABLE IF EXISTS pin_failures;
DROP TABLE IF EXISTS lockouts;
CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    number TEXT PRIMARY KEY, phone TEXT, pin_hash TEXT NOT NULL, status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_phone ON accounts (phone);
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, kind TEXT NOT NULL,
    amount TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    number TEXT PRIMARY KEY, account TEXT, call_sid TEXT, recording_url TEXT,
    details TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL, reply_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_call ON tickets (call_sid);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, number TEXT NOT NULL,
    account TEXT, queue TEXT NOT NULL, issue TEXT, window_start TEXT,
    window_end TEXT, call_sid TEXT, status TEXT NOT NULL DEFAULT 'pending',
    verified INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS callbacks_number ON callbacks (number, created_at);
-- the console's users and the agents' roster (ivr.records.users): scrypt hashes, never a password
-- or a PIN; an agent calls from ``phone`` or types ``code`` and a PIN, and takes ``queues``
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
    queues TEXT NOT NULL DEFAULT '', phone TEXT, code TEXT UNIQUE, pin_hash TEXT,
    created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS users_phone ON users (phone);
-- the agents' calls to /agent/voice (ivr.web.agents): which agent, their language, failed
-- tries, the code typed until its PIN is checked, the caller they took
CREATE TABLE IF NOT EXISTS agent_calls (
    call_sid TEXT PRIMARY KEY, agent TEXT, lang TEXT NOT NULL, code TEXT,
    tries INTEGER NOT NULL DEFAULT 0, caller_sid TEXT,
    started_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_calls_agent ON agent_calls (agent, updated_at);
-- every change made in the console: who, what, when
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, "user" TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT, detail TEXT
);
-- failed console log-ins, by a keyed hash of the name and of the address, for throttling
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at)
"""

#: columns releases before versions added one by one: (table, column, definition)
BASELINE_COLUMNS = (
    ("calls", "turn", "INTEGER NOT NULL DEFAULT 0"),
    ("callbacks", "verified", "INTEGER NOT NULL DEFAULT 0"),
    ("callbacks", "requests", "INTEGER NOT NULL DEFAULT 1"),
    ("calls", "menu_version", "TEXT"),
    ("calls", "menu_file", "TEXT"),
    ("call_events", "choice", "TEXT"),
    ("call_events", "walked", "TEXT"),
    ("call_events", "fell_back", "INTEGER NOT NULL DEFAULT 0"),
    ("calls", "agent", "TEXT"),
    ("calls", "bridged_at", "TEXT"),
    ("calls", "wait_s", "INTEGER"),
    ("calls", "talk_s", "INTEGER"),
    ("callbacks", "done_at", "TEXT"),
    ("callbacks", "done_by", "TEXT"),
    ("callbacks", "note", "TEXT"),
    ("tickets", "closed_at", "TEXT"),
    ("tickets", "closed_by", "TEXT"),
    ("tickets", "note", "TEXT"),
)

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL
)"""


def statements(script: str) -> list[str]:
    """The statements of ``script`` (one per ``;``; comments dropped)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _baseline(db: Database, tx: Tx) -> None:
    for statement in statements(BASELINE):
        tx.execute(db.ddl(statement))
    have: dict[str, set[str]] = {}
    for table, column, definition in BASELINE_COLUMNS:
        if table not in have:
            have[table] = db.columns(table, tx)
        if column not in have[table]:
            tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _actor(db: Database, tx: Tx) -> None:
    tx.execute('ALTER TABLE audit_log RENAME COLUMN "user" TO actor')


def _heard(db: Database, tx: Tx) -> None:
    tx.execute("ALTER TABLE call_events ADD COLUMN heard TEXT")


def _keyed_with(db: Database, tx: Tx) -> None:
    # one row: a fingerprint of the SECRET_KEY the server keys its hashes with (the
    # lockout book's, the console throttle's), so ``ivr unlock`` can tell its key is not it
    tx.execute("CREATE TABLE keyed_with (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, "
               "since TEXT NOT NULL)")


def _login_name_key(db: Database, tx: Tx) -> None:
    # each failed log-in's rows (its name's, its address's, the pair's) name the name's
    # key, so ``ivr ops unlock`` forgets all of them; the rows before it expire in 15 min
    tx.execute("ALTER TABLE login_failures ADD COLUMN name_key TEXT")


def _session_gen(db: Database, tx: Tx) -> None:
    # the console's session cookies carry it; a change that must end them bumps it
    tx.execute("ALTER TABLE users ADD COLUMN session_gen INTEGER NOT NULL DEFAULT 0")

def _notices(db: Database, tx: Tx) -> None:
    # the incident notices ops publish (ivr.records.notices): the words per language as a
    # JSON object, the scope as written (line, node:<id>, queue:<name>), the switch
    tx.execute(db.ddl(
        "CREATE TABLE notices (id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, "
        "texts TEXT NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, "
        "emergency INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, "
        "created_by TEXT NOT NULL, ended_at TEXT, ended_by TEXT)"))
    tx.execute("CREATE INDEX notices_ends ON notices (ends_at)")
    # the notices a step said, by id (space-separated, as ``walked``): what ivr report counts
    tx.execute("ALTER TABLE call_events ADD COLUMN notices TEXT")


def _ticket_team(db: Database, tx: Tx) -> None:
    # a ticket is its team's whatever queue the call ended in (a complaint filed while the
    # complaints team is closed goes on to general): every ticket before this was a
    # complaint, and the default also fills the rows ``ivr db copy`` brings from them
    tx.execute("ALTER TABLE tickets ADD COLUMN team TEXT NOT NULL DEFAULT 'complaints'")


def _caller_key(db: Database, tx: Tx) -> None:
    # a keyed hash of the caller's number (ivr.records.known), so a caller who calls again
    # is found by it; a withheld number has none. The calls before it have none either:
    # they are not offered the shortcut, which is the safe side
    tx.execute("ALTER TABLE calls ADD COLUMN caller_key TEXT")
    tx.execute("CREATE INDEX calls_caller ON calls (caller_key, started_at)")


def _caller_need(db: Database, tx: Tx) -> None:
    # the last need is looked up among a number's calls with an issue: through the index
    # of all its calls, a number with thousands of calls in the window (a switchboard, a
    # load test, a caller ringing and hanging up) had each lookup walk all of them
    tx.execute("CREATE INDEX calls_caller_need ON calls (caller_key, started_at) "
               "WHERE issue IS NOT NULL")


# -- 11: the SMS outbox (issue 26) ------------------------------------------------

def _sms_outbox(db: Database, tx: Tx) -> None:
    # the SMS follow-ups (ivr.records.outbox): a webhook only writes a row; a sender claims
    # it with a lease (lease_until, leased_by), so of several senders on one database one
    # sends it, and keeps Twilio's message SID and status, or why it gave up (error)
    tx.execute(db.ddl(
        "CREATE TABLE sms_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, call_sid TEXT, "
        "kind TEXT NOT NULL, to_number TEXT NOT NULL, lang TEXT NOT NULL, body TEXT NOT NULL, "
        "created_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', "
        "attempts INTEGER NOT NULL DEFAULT 0, next_at TEXT NOT NULL, lease_until TEXT, "
        "leased_by TEXT, message_sid TEXT, twilio_status TEXT, error TEXT, sent_at TEXT, "
        "updated_at TEXT NOT NULL)"))
    # one message of a kind per call, however often a step is replayed
    tx.execute("CREATE UNIQUE INDEX sms_outbox_call_kind ON sms_outbox (call_sid, kind)")
    tx.execute("CREATE INDEX sms_outbox_due ON sms_outbox (next_at) WHERE status = 'pending'")
    tx.execute("CREATE INDEX sms_outbox_number ON sms_outbox (to_number, created_at)")
    tx.execute("CREATE INDEX sms_outbox_sid ON sms_outbox (message_sid)")
    # the numbers that texted STOP (and not START since), as Twilio sends them
    tx.execute("CREATE TABLE sms_optouts (number TEXT PRIMARY KEY, keyword TEXT NOT NULL, "
               "at TEXT NOT NULL)")
    # one row: which sender of the deployment sends now, and until when (a lease)
    tx.execute("CREATE TABLE sms_sender (id INTEGER PRIMARY KEY, holder TEXT, "
               "until TEXT NOT NULL)")


# -- 12: the caller's verdict (issue 26; 11 is the SMS outbox's) -----------------------

def _csat(db: Database, tx: Tx) -> None:
    # kept on the call, which already names its queue, agent, language and tree version:
    # when the question was put (after the bridge), the key pressed (1 to 5; NULL: not
    # answered), and the recorded comment's Twilio URL and length
    for column in ("csat_asked_at TEXT", "csat_score INTEGER", "csat_comment_url TEXT",
                   "csat_comment_s INTEGER"):
        tx.execute(f"ALTER TABLE calls ADD COLUMN {column}")


# -- 13: a complaint's workflow (issue 26) -------------------------------------------

def _ticket_stages(db: Database, tx: Tx) -> None:
    # a complaint's workflow (ivr.flow.complaints): its stage, the result as sent in each
    # language, how often it was disputed, and every move with its who, when and note.
    # A ticket open before is registered; a closed one closed
    tx.execute("ALTER TABLE tickets ADD COLUMN stage TEXT NOT NULL DEFAULT 'registered'")
    tx.execute("UPDATE tickets SET stage='closed' WHERE status='closed'")
    for column in ("result_en", "result_zh", "result_at", "stage_at"):
        tx.execute(f"ALTER TABLE tickets ADD COLUMN {column} TEXT")
    tx.execute("UPDATE tickets SET stage_at=COALESCE(closed_at, created_at)")
    tx.execute("ALTER TABLE tickets ADD COLUMN disputes INTEGER NOT NULL DEFAULT 0")
    # whether the result went into the outbox: a withheld number, or one that texted STOP,
    # hears it read out when it checks the ticket, rather than "it was sent to you"
    tx.execute("ALTER TABLE tickets ADD COLUMN result_texted INTEGER NOT NULL DEFAULT 0")
    tx.execute(db.ddl(
        "CREATE TABLE ticket_moves (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "number TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, "
        "from_stage TEXT NOT NULL, to_stage TEXT NOT NULL, note TEXT NOT NULL, "
        "recording_url TEXT, late INTEGER NOT NULL DEFAULT 0)"))
    tx.execute("CREATE INDEX ticket_moves_number ON ticket_moves (number, at)")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    apply: Callable[[Database, Tx], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the tables of the releases before schema versions", _baseline),
    Migration(2, "audit_log.user is now actor (user is a reserved word in PostgreSQL)",
              _actor),
    Migration(3, "call_events.heard: what a spoken answer matched (target, score, "
                 "confidence; never the words)", _heard),
    Migration(4, "keyed_with: which SECRET_KEY the lockout hashes are keyed with (a "
                 "fingerprint, never the key)", _keyed_with),
    Migration(5, "login_failures.name_key: the keyed name of the log-in each row counts",
              _login_name_key),
    Migration(6, "users.session_gen: log-out, disabling and a new password end a user's "
                 "console sessions", _session_gen),
    Migration(7, "notices: incident notices and emergency switches; call_events.notices: "
                 "the ones a step said", _notices),
    Migration(8, "tickets.team: a ticket belongs to its team, not to the queue its call "
                 "ended in", _ticket_team),
    Migration(9, "calls.caller_key: a keyed hash of the caller's number, to offer a caller "
                 "who calls again the way back to their last need", _caller_key),
    Migration(10, "calls_caller_need: a number's calls with an issue, so finding its last "
                  "need does not walk its other calls", _caller_need),
    Migration(11, "sms_outbox, sms_optouts, sms_sender: SMS follow-ups waiting, sent or "
                  "given up, the numbers that texted STOP, and the deployment's one sender",
              _sms_outbox),
    Migration(12, "calls.csat_*: the caller's verdict after an agent (1 to 5) and the "
                  "recorded comment's URL", _csat),
    Migration(13, "ticket stages: a complaint's workflow from registered to closed, its "
                  "result, disputes and every move (ticket_moves)", _ticket_stages),
)
#: applied in number order, whatever order the list above was merged in
MIGRATIONS = tuple(sorted(MIGRATIONS, key=lambda m: m.number))
LATEST = MIGRATIONS[-1].number


@dataclass(frozen=True)
class Status:
    """Where a database stands: its version (0: none recorded), what it has applied
    (number, name, when) and what this release would apply."""

    version: int
    applied: list[tuple[int, str, str]]
    pending: list[Migration]

    @property
    def ahead(self) -> bool:
        """Made by a newer release of ivr than this one."""
        return self.version > LATEST


def status(db: Database) -> Status:
    """Where ``db`` stands; StoreError when it holds tables but no ivr one: another
    application's database is neither read as an old ivr one nor migrated."""
    tables = db.tables()
    if tables:
        problem = not_ivr(db.where, tables)
        if problem:
            raise StoreError(problem)
    if "schema_version" not in tables:
        return Status(0, [], list(MIGRATIONS))
    applied = [(int(r[0]), str(r[1]), str(r[2])) for r in
               db.read_all("SELECT version, name, applied_at FROM schema_version ORDER BY version")]
    version = max((a[0] for a in applied), default=0)
    # by number, not above the highest: a migration merged in below one already applied
    # (11 beside 12, written on two branches) is still pending
    done = {a[0] for a in applied}
    return Status(version, applied, [m for m in MIGRATIONS if m.number not in done])


def upgrade(db: Database, progress: Callable[[Migration], None] | None = None) -> list[Migration]:
    """Apply the migrations ``db`` lacks, in order; the ones applied. StoreError when
    the database is newer than this release (a downgrade is never guessed)."""
    found = status(db)
    if found.ahead:
        raise _ahead(db, found.version)
    done: list[Migration] = []
    for migration in found.pending:
        with db.tx("ivr:schema") as tx:
            tx.execute(VERSION_TABLE)
            version = tx.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            if version > LATEST:
                raise _ahead(db, version)
            if tx.execute("SELECT 1 FROM schema_version WHERE version=?",
                          (migration.number,)).fetchone():  # another host applied it meanwhile
                continue
            if progress:
                progress(migration)
            migration.apply(db, tx)
            tx.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                       (migration.number, migration.name,
                        datetime.now(UTC).isoformat(timespec="seconds")))
        done.append(migration)
    return done


def _ahead(db: Database, version: int) -> StoreError:
    return StoreError(f"the database {db.where} is at schema version {version}, newer than "
                      f"this release of ivr knows ({LATEST}): upgrade ivr, or use a "
                      f"database of its own")
