"""Run the app under gunicorn, the server a deployment uses (not the Flask dev server).

The worker model, chosen so that slow or idle clients cannot starve the webhooks (with
sync workers, 8 clients trickling a body held all 4 workers until gunicorn's 30 s timeout
and signed webhooks timed out meanwhile):

- **gthread workers**, ``threads`` request threads per process. The main loop of each
  worker accepts connections and parks idle keep-alive connections in a selector, where
  they hold no thread; a PIN check (scrypt, ~60 ms, releases the GIL) and a slow client
  hold one thread each while the other threads answer the other calls.
- **A deadline on each connection's turn in a thread.** gunicorn 27's gthread
  (``workers/gthread.py``) bounds only the wait for a new connection's *first* byte (5 s,
  then the connection is parked in the selector) and the drain of a body the app did not
  read (5 s, 64 KiB). Once a request has begun the socket is blocking with no timeout:
  headers and body are read for as long as the client takes, so a client trickling them,
  or sending half a request and falling silent, holds its thread indefinitely. gunicorn's
  ``timeout`` does not help: under gthread it restarts a worker whose *main loop* stops
  answering, which a trickler never causes. ``_DeadlineWorker`` adds the missing bound: a
  watchdog thread shuts down the socket of any turn (reading the request, running the app,
  writing the answer) older than ``request_timeout_s``; the blocked read wakes at once and
  the thread is free. The default, 15 s, is Twilio's own webhook timeout: an answer later
  than that is worth nothing to the caller.
- **Sized limits.** The request line stays at gunicorn's 4094 bytes (a webhook set to GET
  carries Twilio's parameters in the query); 50 header fields of at most 4 KiB each, so a
  connection's header buffer is ~200 KB, not ~800 KB. Keep-alive 5 s: an idle connection
  costs a file descriptor, not a thread. The body limit is the app's (``ivr.web.limits``,
  413); ``_DeadlineWorker`` makes gunicorn honour its ``Connection: close``.

A flood of more slow connections than there are threads still queues webhooks behind
them, for at most ``request_timeout_s`` each: thread-per-request servers cannot do better,
which is why a buffering reverse proxy (nginx) in front remains the recommended setup.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

#: request threads per worker process: 8 trickling clients on one worker leave half free
DEFAULT_THREADS = 16
#: longest a connection's turn may hold a thread: Twilio gives up on a webhook after 15 s
DEFAULT_REQUEST_TIMEOUT_S = 15

_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


class _DeadlineWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, plus a deadline on each connection's turn in a thread (see the module)."""

    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    wsgi: _WSGIApp

    def init_process(self) -> None:
        self._turns: dict[Any, float] = {}  # connection in a thread -> its deadline
        self._turns_lock = threading.Lock()
        threading.Thread(target=self._cut_overdue, name="ivr-deadlines", daemon=True).start()
        super().init_process()  # runs the worker's loop until it exits

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _honour_connection_close(self.wsgi)

    def handle(self, conn: Any) -> Any:
        with self._turns_lock:
            self._turns[conn] = time.monotonic() + self.request_timeout_s
        try:
            return super().handle(conn)
        finally:
            with self._turns_lock:
                self._turns.pop(conn, None)

    def _cut_overdue(self) -> None:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self._turns_lock:  # held, so a turn that just ended or began is not cut
                overdue = [conn for conn, deadline in self._turns.items() if deadline <= now]
                for conn in overdue:
                    del self._turns[conn]
                    try:  # wakes the thread blocked on it; the thread then closes it
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass  # already closed
            for conn in overdue:
                self.log.warning("cut the connection from %s: request not sent or answer "
                                 "not read within %s s", conn.client, self.request_timeout_s)


def _honour_connection_close(app: _WSGIApp) -> _WSGIApp:
    """Make the app's ``Connection: close`` close the connection under gunicorn.

    gunicorn drops hop-by-hop headers from the app and decides keep-alive itself, so a 413
    for a 300 MB body would say "keep-alive" and gunicorn would read on into the body to
    reuse the connection. ``force_close`` on its response object (``start_response`` is
    its bound method) makes it answer "close" and stop there.
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if any(name.lower() == "connection" and value.lower() == "close"
                   for name, value in headers):
                force_close = getattr(getattr(start_response, "__self__", None),
                                      "force_close", None)
                if callable(force_close):
                    force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


def run_gunicorn(app: Flask, *, host: str, port: int, workers: int,
                 threads: int = DEFAULT_THREADS,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S) -> None:
    """Serve ``app`` with ``workers`` gthread workers of ``threads`` threads each.

    Call state lives in the database, so any worker and thread serves any step of a call.
    The access log is the ``ACCESS_LOG`` setting (off by default: see ``access_log``).
    """
    worker = type("IvrThreadWorker", (_DeadlineWorker,),
                  {"request_timeout_s": request_timeout_s})
    # the app was built here, in the arbiter: its database connections (a PostgreSQL pool
    # and its threads) are closed before the fork, and each worker opens its own
    app.extensions["ivr"].store.close()
    _Gunicorn(app, {
        "bind": f"{host}:{port}", "workers": workers,
        "accesslog": access_log(app.config.get("ACCESS_LOG", False)),
        "worker_class": worker, "threads": threads,
        "timeout": 30,  # gthread: restarts a worker whose main loop is stuck, not a request
        "graceful_timeout": DEFAULT_REQUEST_TIMEOUT_S,  # no webhook is useful for longer
        "keepalive": 5,
        # gunicorn's default, pinned: the deadline is per HTTP/1 request, where HTTP/2 would
        # serve a whole connection in one turn
        "http_protocols": "h1",
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 4096,
        # gunicornc's socket, by default one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn)
        # that a second server on the host would take over; ivr serve does not use it
        "control_socket_disable": True,
    }).run()


def access_log(setting: bool | str) -> str | None:
    """gunicorn's ``accesslog`` for the ``ACCESS_LOG`` setting: None (off), ``-`` (stdout)
    for true, else the file.

    Off by default: formatting a line per request cost 7.5 % of a webhook's CPU, and the
    reverse proxy recommended in front keeps an access log anyway; the app records every
    call step in the database.
    """
    if setting is True:
        return "-"
    return setting or None
