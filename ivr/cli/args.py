"""What the ``ivr`` commands check before they start: files, databases, times, errors.

Click parameter types and helpers shared by every command of ``ivr.cli``,
so that a mistake on the command line ends in one line naming the problem and the file
(exit 2 for a bad argument, 1 for a problem found later), never a traceback, and so that
``--at``, ``--db`` and output paths mean the same in every command. No Flask here.
"""

from __future__ import annotations

import errno
import getpass
import logging
import math
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import click

from ivr import moments
from ivr.errors import IVRError, MenuError
from ivr.logs import LineFormatter, stderr_handler

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite 3 database


# -- errors at the boundary --------------------------------------------------------------

def error(exc: IVRError) -> click.ClickException:
    """An ivr error as the CLI shows it: one problem on one line, several one per line."""
    if isinstance(exc, MenuError) and len(exc.problems) == 1:
        problem = exc.problems[0]
        return click.ClickException(f"{problem.location}: {problem.message}")
    return click.ClickException(str(exc))


def not_utf8(path: Path) -> str | None:
    """Why ``path`` cannot be read as UTF-8 text (None when it can, or cannot be read), as
    the menu and prompt loaders say it: a file named on the command line gets the same
    line, its encoding guessed ("it looks like GBK"), as one named in the settings."""
    from ivr.menu.source import not_utf8 as problem_of

    problem = problem_of(path)
    return None if problem is None else f"{problem.location}: {problem.message}"


def yaml_files(paths: Iterable[Path | str | None]) -> list[Path]:
    """The files behind ``paths``: a folder stands for the ``*.yaml`` files in it."""
    found: list[Path] = []
    for path in paths:
        if path is None:
            continue
        path = Path(path)
        found += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return found


Files = Iterable[Path | str | None] | Callable[[], Iterable[Path | str | None]]


@contextmanager
def boundary(files: Files = ()) -> Iterator[None]:
    """Turn ivr's errors into one-line click errors. ``files`` are the menu, prompt and
    traffic files (or folders) the command reads, or a function listing them: one that
    is not UTF-8 is named."""
    try:
        yield
    except IVRError as exc:
        raise error(exc) from exc
    except UnicodeDecodeError as exc:
        try:
            candidates = yaml_files(files() if callable(files) else files)
        except IVRError:
            candidates = []
        for path in candidates:
            problem = not_utf8(path)
            if problem:
                raise click.ClickException(problem) from exc
        raise click.ClickException(f"a menu, prompt or traffic file is not UTF-8 text "
                                   f"({exc}); save it as UTF-8") from exc


def app_settings(database: Path | str | None = None, *,
                 secret: bool = False) -> dict[str, Any]:
    """The app's settings, through the same layers and checks as ``create_app``
    (``config.read``), for a command that reads them without serving: no Twilio token
    needed, a command's ``--db`` over the database setting, no secret key made on disk.
    With ``secret``, SECRET_KEY is the server's (``server_key``). A problem is one click
    error.
    """
    from ivr import config

    layered: dict[str, Any] = {"DATABASE": str(database)} if database else {}
    try:
        settings = config.read(layered, token_required=False, make_key=False)
        if secret:
            settings["SECRET_KEY"] = server_key(settings)
        return settings
    except IVRError as exc:
        raise error(exc) from exc


def system_actor(command: str) -> str:
    """Who the audit log says made a change from the command line: the system account
    running ``command`` (``root (ivr ops)``), beside the console's users."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no LOGNAME/USER and no passwd entry (a bare container)
        who = "someone"
    return f"{who} ({command})"


def server_key(settings: Mapping[str, Any]) -> str:
    """The key the server keys its hashes with (the lockout book's, the console
    throttle's), for a command that looks them up: the SECRET_KEY setting, else the one
    a server keeps beside a SQLite database. A click error when there is none, or when
    the database says the server keys with another: a lookup with the wrong key finds no
    lock on a locked account. The database is only read (nothing is made on disk)."""
    from ivr import config
    from ivr.records.database import is_postgres, open_database
    from ivr.records.lockouts import key_problem

    location = str(settings["DATABASE"])
    secret: str | None = settings.get("SECRET_KEY")
    if not secret and is_postgres(location):
        raise click.ClickException(config.NO_POSTGRES_KEY)
    problem = database_problem(location)
    if problem:
        raise click.ClickException(problem)
    with boundary():
        secret = secret or config.kept_key(location)
        db = open_database(location, read_only=True, pool_size=1)
        try:
            problem = key_problem(db, secret)
        finally:
            db.close()
    if problem or not secret:
        raise click.ClickException(problem or "SECRET_KEY is not set")
    return secret


def database_problem(location: Path | str) -> str | None:
    """Why the database a command reads is none it may use (None when it is, as far as
    can be told without opening it): a SQLite file's header is read; a PostgreSQL
    server answers for itself when the command connects."""
    from ivr.records.database import is_postgres

    return None if is_postgres(location) else sqlite_problem(Path(location), create=False)


def settings_files(settings: Mapping[str, Any] | None = None) -> list[Path | str | None]:
    """The trees (the A/B trial's too), prompt folder and traffic file the app's settings
    (read again unless given) name: where to look for the file that is not UTF-8 when the
    app cannot start."""
    from ivr import config
    from ivr.menu.loader import DEFAULT_MENU
    from ivr.queue.traffic import DEFAULT_PATH

    if settings is None:
        settings = config.read({"DEV": True, "SECRET_KEY": "unused"})
    return [settings.get("MENU") or DEFAULT_MENU, settings.get("MENU_B"),
            settings.get("PROMPTS_DIR"), settings.get("TRAFFIC") or DEFAULT_PATH]


# -- parameter types ---------------------------------------------------------------------

if TYPE_CHECKING:  # generic from click 8.2; plain before
    _MomentBase = click.ParamType[moments.Moment]
    _TextBase = click.ParamType[str]
else:
    _MomentBase = _TextBase = click.ParamType


class MomentType(_MomentBase):
    """``--at``: parsed here, resolved once the centre's timezone is known."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> moments.Moment:
        if isinstance(value, moments.Moment):
            return value
        try:
            return moments.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


MOMENT = MomentType()


class WebhookURL(_TextBase):
    """``--url``: a running server's base or Voice URL, ``http(s)://host[:port][/path]``.

    Checked here, before a call is placed: urllib takes ``notaurl`` for a traceback and
    ``127.0.0.1:8000`` (no scheme) or port 99999 for a call that ends in Twilio's 11200.
    """

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value).strip()
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            bare = "//" not in text and any(c in text for c in ".:")  # host:port, say
            hint = f"; did you mean http://{text}?" if bare else ""
            self.fail(f"{text!r} is not a server URL: give http:// or https:// and the host "
                      f"(and port), e.g. http://127.0.0.1:8000{hint}", param, ctx)
        try:
            parts.port  # noqa: B018  (reading it checks it: urllib raises on 99999)
        except ValueError:
            self.fail(f"{text!r}: the port must be a number from 1 to 65535", param, ctx)
        if not parts.hostname or parts.port == 0:
            self.fail(f"{text!r}: give the host and a port from 1 to 65535", param, ctx)
        return text


class PhoneNumber(_TextBase):
    """``--from``/``--to``: a number as Twilio sends it (``--from`` may be withheld)."""

    name = "number"

    def __init__(self, withheld_ok: bool = False) -> None:
        self.withheld_ok = withheld_ok

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from ivr.phone import number_problem

        problem = number_problem(str(value), withheld_ok=self.withheld_ok)
        if problem:
            self.fail(problem, param, ctx)
        return str(value)


class Finite(click.FloatRange):
    """A number in a range, and a number: click's ``FloatRange`` lets ``nan`` through
    (every comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


class TextFile(click.Path):
    """A YAML file, or a folder of them (``folder=True``), that must be UTF-8 text."""

    def __init__(self, folder: bool = False, must_exist: bool = True) -> None:
        super().__init__(exists=must_exist, file_okay=not folder, dir_okay=folder,
                         path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        for file in yaml_files([path]):
            problem = not_utf8(file)
            if problem:
                self.fail(problem, param, ctx)
        return path


def writable_problem(path: Path, what: str) -> str | None:
    """Why ``what``, the file at ``path``, cannot be written (None when it can), found
    without creating it: a command that then fails leaves no file behind."""
    if path.exists():
        if path.is_dir():
            return f"{what}: {path} is a folder"
        return None if os.access(path, os.W_OK) else f"{what}: cannot write {path}"
    problem = _writable_folder(path)
    return f"{what}: {problem}" if problem else None


def _writable_folder(path: Path) -> str | None:
    """Why a file cannot be created at ``path`` (None when it can)."""
    folder = path.parent
    if not folder.exists():
        return f"{path}: the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{path}: {folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{path}: cannot write in the folder {folder}"
    return None


class OutputFile(click.Path):
    """A file the command writes: its folder must exist and be writable, and its name
    end in one of ``suffixes`` when given. Checked before any work is done."""

    def __init__(self, suffixes: tuple[str, ...] = ()) -> None:
        super().__init__(dir_okay=False, writable=True, path_type=Path)
        self.suffixes = suffixes

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        if self.suffixes and path.suffix.lower() not in self.suffixes:
            self.fail(f"{path}: the name must end in {_either(self.suffixes)}", param, ctx)
        problem = _writable_folder(path)
        if problem:
            self.fail(problem, param, ctx)
        return path


#: why a simulator's ``--db`` is a file: its sandbox snapshots and restores the file whole
SIMULATOR_SQLITE_ONLY = ("the simulators keep their calls in a SQLite file of their own (their "
                         "sandbox snapshots it): give a file path, not a PostgreSQL URL")


class Database(click.Path):
    """An ivr database: a ``postgresql://`` URL (a ``str``; refused unless ``postgres``),
    or a SQLite ``Path``. An existing file must be one (its header is read, the file is
    neither opened as a database nor changed); a new one is allowed only when ``create``
    (its folder must then be writable)."""

    name = "database"

    def __init__(self, create: bool = True, postgres: bool = True) -> None:
        super().__init__(exists=not create, dir_okay=False, path_type=Path)
        self.create, self.postgres = create, postgres

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        from ivr.config import database_location
        from ivr.records.database import is_postgres, shown

        try:  # read as IVR_DATABASE is: sqlite:///path unwrapped, postgresql:// kept
            value = database_location(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if is_postgres(value):
            if not self.postgres:
                self.fail(f"{SIMULATOR_SQLITE_ONLY}, not {shown(value)!r}", param, ctx)
            return value  # the server answers for it when the command connects
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        problem = sqlite_problem(path, self.create)
        if problem:
            self.fail(problem, param, ctx)
        return path


class CallRecords(Database):
    """``ivr replay --calls``: the calls an ivr database recorded (a SQLite file or a
    ``postgresql://`` URL, only read), or an export of them (JSON, JSON lines)."""

    name = "records"

    def __init__(self) -> None:
        super().__init__(create=False)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        from ivr.sim.calllog import EXPORT_SUFFIXES

        if Path(os.fsdecode(value)).suffix.lower() in EXPORT_SUFFIXES:
            export = click.Path(exists=True, dir_okay=False, path_type=Path)
            return Path(os.fsdecode(export.convert(value, param, ctx)))
        return super().convert(value, param, ctx)


def sqlite_problem(path: Path, create: bool = False) -> str | None:
    """Why ``path`` is not a SQLite database a command may use (None when it is)."""
    if not path.exists():
        return None if create and not _writable_folder(path) else (
            _writable_folder(path) or f"{path}: no such database")
    if path.is_dir():
        return f"{path} is a folder, not a SQLite database"
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        return f"{path}: cannot read: {exc.strerror}"
    if not head:
        return None if create else f"{path} is empty, not an ivr database"
    if head != SQLITE_MAGIC:
        return f"{path} is not a SQLite database"
    return _foreign(path)


def _foreign(path: Path) -> str | None:
    """Why the SQLite file at ``path`` is another application's (None when it may be
    ivr's), read without changing it: opened for writing, SQLite would switch it to WAL."""
    import sqlite3

    from ivr.records.database import not_ivr

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # the command opens it and says what is wrong in its own words
    return not_ivr(str(path), tables) if tables else None


def listen_problem(host: str, port: int) -> str | None:
    """Why a server cannot listen on ``host:port`` (None when it can), found by binding
    it once: gunicorn, on a port in use, logs "Connection in use" ten times over five
    seconds before giving up. The socket is closed at once (as gunicorn, with
    SO_REUSEADDR, so a port left in TIME_WAIT by a server just stopped still counts as
    free)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: unknown host ({exc.strerror})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            busy = exc.errno == errno.EADDRINUSE
            why = ("the port is in use (another server runs there?); stop it or give "
                   "another --port") if busy else (exc.strerror or str(exc))
            return f"cannot listen on {host}:{port}: {why}"
    return None


def _either(options: tuple[str, ...]) -> str:
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + f" or {options[-1]}"


# -- logging -----------------------------------------------------------------------------

class _Stderr(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record comes (click's runner swaps it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(verbose: bool) -> None:
    """Warnings to stderr; with ``ivr -v`` every debug line of ivr as well."""
    root, ivr_log = logging.getLogger(), logging.getLogger("ivr")
    ours = [h for h in root.handlers if isinstance(h, _Stderr)]
    for handler in ours:  # a previous ``ivr -v`` in this process (tests)
        root.removeHandler(handler)
    if ours and ivr_log.level == logging.DEBUG:
        ivr_log.setLevel(logging.NOTSET)
    if not verbose:
        # each line with its time, and one line whatever a request put in it (ivr.logs)
        logging.basicConfig(level=logging.WARNING, handlers=[stderr_handler()])
        return
    # an explicit handler: basicConfig does nothing once something else configured logging
    handler = _Stderr()
    handler.setFormatter(LineFormatter())
    handler.setLevel(logging.DEBUG)
    root.addHandler(handler)
    ivr_log.setLevel(logging.DEBUG)


def verbose() -> bool:
    """Whether ``ivr -v`` asked for debug logs."""
    return logging.getLogger("ivr").getEffectiveLevel() <= logging.DEBUG


@contextmanager
def app_logs_quiet() -> Iterator[None]:
    """The app's expected warnings (a locked account, a frozen one) kept out of what a
    command prints, unless ``ivr -v``: they would land in the middle of a transcript."""
    app_log = logging.getLogger("ivr")
    before = app_log.level
    if not verbose():
        app_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        app_log.setLevel(before)
