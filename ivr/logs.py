"""Log lines: each record one line, starting with its time.

The app logs what requests carry (a path, a field Twilio sends, a name typed into the
console). Written as it came, a CR/LF in it would begin a line that reads like one of
ours (``%0AWARNING ivr.records.lockouts: phone verification unlocked ...`` in a refused
request's path); so every control character of a formatted record, its traceback's
included, is written as an escape (``\\n``, ``\\r``, ``\\x1b``, ``\\u2028``). A line
then always begins with the time and the true level and logger.

Used by the command line (``ivr.cli.args.configure_logging``, which ``ivr serve``'s
workers inherit) and by ``create_app`` where nothing configured logging (``gunicorn
'ivr:create_app()'``). Only the standard library: every room may use it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

#: time, level, logger, message: 2026-12-07T05:21:29.272+0000 WARNING ivr.web.signature: ...
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: every character that ends or hides a line somewhere: C0 and C1 controls, DEL, and the
#: Unicode line and paragraph separators (``str.splitlines`` breaks at several of them);
#: a tab stays, it ends no line
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))
            if code != 0x09}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def one_line(text: str) -> str:
    """``text`` with every control character written as an escape: one line."""
    return text.translate(_ESCAPES)


class LineFormatter(logging.Formatter):
    """``LOG_FORMAT`` with the local time to the millisecond and its UTC offset; each
    record, traceback and all, escaped into one line."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        moment = self.converter(record.created)
        return (time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{int(record.msecs):03d}"
                + time.strftime("%z", moment))

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


def stderr_handler(level: int = logging.NOTSET) -> logging.StreamHandler[TextIO]:
    """A handler writing ``LineFormatter``'s lines to stderr."""
    handler: logging.StreamHandler[TextIO] = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    handler.setLevel(level)
    return handler


def configure_if_unset() -> None:
    """Warnings and errors to stderr as ``LineFormatter``'s lines, unless logging is
    configured already (``ivr serve``, a deployment's own, a test run): without it they
    would reach Python's last resort, which writes the bare message, without its time."""
    root = logging.getLogger()
    if not root.handlers:  # the root's level is WARNING unless someone set another
        root.addHandler(stderr_handler())
