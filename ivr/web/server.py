"""Run the app under gunicorn, the server a deployment uses (not the Flask dev server).

The worker model, chosen by measurement (``bench/bench_servers.py``; the README's table)
so that slow or idle clients cannot starve the webhooks:

- **gunicorn's asgi workers**: each worker process reads every connection on one event
  loop, so an idle socket, one that sent a byte of its request line, or one trickling a
  body costs a little memory and no thread. Until issue 21 the workers were gthread,
  which gives a new connection a thread while it waits for the request: 100 idle sockets
  made signed webhooks wait 10 s and ``/health`` time out.
- **The Flask app behind ``ivr.web.asgi.Buffered``**: a request reaches one of the
  worker's ``threads`` only once its body is whole; a PIN check (scrypt, ~60 ms, releases
  the GIL) holds one thread while the others answer the other calls.
- **A deadline on each request**, ``request_timeout_s``: a connection that has not sent a
  request's headers that long after it opened (or after its last answer) is closed, and a
  body not sent by then gets 408 and the connection is closed. The default, 15 s, is
  Twilio's own webhook timeout: an answer later than that is worth nothing to the caller.
- **Sized limits.** The request line stays at gunicorn's 4094 bytes (a webhook set to GET
  carries Twilio's parameters in the query); 50 header fields of at most 4 KiB each.
  Keep-alive 5 s. The body limit is the app's (``ivr.web.limits``, 413): a body declared
  larger is never read, and the app's ``Connection: close`` ends the connection.
- **Graceful stops and restarts** are gunicorn's arbiter's: SIGTERM lets requests in
  flight finish (up to 15 s), SIGINT stops at once, SIGHUP starts new workers.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

from ivr.web.asgi import Buffered
from ivr.web.sender import start_background

#: request threads per worker process: the app's turns, not the connections (ivr serve's
#: --threads). Four, not 16: a worker's threads take turns at Python's lock in 5 ms slices,
#: and 16 runnable ones stretched a webhook's p99 from 83 to 126 ms under load
#: (bench/bench_webhook.py); a PIN check (scrypt) releases the lock while it hashes
DEFAULT_THREADS = 4
#: longest a client may take to send a request's body: Twilio gives up after 15 s
DEFAULT_REQUEST_TIMEOUT_S = 15


class _Connection(ASGIProtocol):  # type: ignore[misc]
    """gunicorn's asgi connection, closed when its request's headers are not all in within
    the request deadline, counted from the connection's start or from its last answer.

    gunicorn 27 arms no timer before a connection's first request, and any byte received
    cancels its keep-alive timer: a socket that sends nothing, or a byte of a request line,
    and then waits, stayed open for good, each holding a file descriptor (issue 21).
    """

    _headers_due: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._await_headers()

    def _arm_keepalive_timer(self) -> None:
        """gunicorn arms this when the connection waits for its next request."""
        super()._arm_keepalive_timer()
        self._await_headers()

    def _on_headers_complete(self) -> bool:
        self._headers_arrived()
        return super()._on_headers_complete()  # type: ignore[no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._headers_arrived()
        self._headers_due = self.worker.loop.call_later(
            self.worker.asgi.deadline_s, self._keepalive_timeout)  # closes, wakes the loop

    def _headers_arrived(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None


class Worker(gasgi.ASGIWorker):  # type: ignore[misc]
    """gunicorn's asgi worker with ``_Connection`` for its connections."""

    def init_process(self) -> None:
        # gunicorn 27's worker builds its connections as ``ASGIProtocol(worker)`` by this
        # module-level name (ASGIWorker._serve) and offers no setting for it; the worker
        # process serves only this app, so the name is rebound in it alone
        gasgi.ASGIProtocol = _Connection
        super().init_process()


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Buffered, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Buffered:
        return self.application


def run_gunicorn(app: Flask, *, host: str, port: int, workers: int,
                 threads: int = DEFAULT_THREADS,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S) -> None:
    """Serve ``app`` with ``workers`` asgi workers of ``threads`` request threads each.

    Call state lives in the database, so any worker and thread serves any step of a call.
    The access log is the ``ACCESS_LOG`` setting (off by default: see ``access_log``).
    """
    # the app was built here, in the arbiter: its database connections (a PostgreSQL pool
    # and its threads) are closed before the fork, and each worker opens its own; the
    # adapter's thread pool starts its threads in each worker, on its first request. (The
    # benchmarks serve a static app the same way: it has no hotline.)
    if "ivr" in app.extensions:
        app.extensions["ivr"].store.close()
    # what the app loaded (the tree, the prompts, the Mandarin tables) is
    # shared by the workers' pages until written; out of the collector's reach, its objects
    # are not written by every collection in every worker, and their pages stay shared
    # (https://docs.python.org/3/library/gc.html#gc.freeze)
    gc.freeze()
    hotline = app.extensions.get("ivr")

    def start_background_work(worker: Any) -> None:
        # threads started after the fork (one started in the arbiter would not survive
        # into the workers): the database's own upkeep, and the SMS sender: each worker
        # runs one; of all of them, on every host, the one holding the deployment's
        # sender lease sends (ivr.web.sender)
        if hotline is not None:
            hotline.store.database.serving()
            start_background(hotline.outbox, app.config)

    served = Buffered(app, threads=threads, max_body=int(app.config["MAX_CONTENT_LENGTH"]),
                      deadline_s=request_timeout_s)
    _Gunicorn(served, {
        "bind": f"{host}:{port}", "workers": workers,
        "accesslog": access_log(app.config.get("ACCESS_LOG", False)),
        "worker_class": Worker,
        "timeout": 30,  # restarts a worker whose event loop is stuck
        "graceful_timeout": DEFAULT_REQUEST_TIMEOUT_S,  # no webhook is useful for longer
        "keepalive": 5,
        # gunicorn's default, pinned: the deadline is per HTTP/1 request
        "http_protocols": "h1",
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 4096,
        # gunicornc's socket, by default one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn)
        # that a second server on the host would take over; ivr serve does not use it
        "control_socket_disable": True,
        "post_worker_init": start_background_work,
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
