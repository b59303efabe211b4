"""The WSGI app as an ASGI app whose requests reach a thread only once they are whole.

An event-loop server (``ivr.web.server``) reads every connection without a thread; this
adapter then reads the request's body on the loop too, within the request's deadline, and
only a complete request takes one of the ``threads`` that run the Flask app. So idle
sockets, a byte of a request line, or a body trickled a byte at a time cost a little
memory, never a thread the webhooks need (issue 21: 100 idle sockets stalled gthread).

- A body declared larger than ``max_body`` is not read: the app gets the request with an
  empty stream and answers its 413 (``ivr.web.limits``) with ``Connection: close``.
- A chunked body is read up to one byte past ``max_body``; the app sees that length and
  refuses it the same way.
- A body not complete within ``deadline_s`` of the request's start gets 408 and the
  connection is closed; the app never runs for it.

The app's answer is collected in its thread and sent whole: every answer of the hotline
is small (TwiML, console pages, prompt audio of a few hundred KB at most).
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BodyTimeout(Exception):
    """The client did not send its whole body in time."""


class Buffered:
    """ASGI app serving ``app`` from a pool of ``threads`` threads (see the module)."""

    def __init__(self, app: WSGIApp, *, threads: int, max_body: int,
                 deadline_s: float) -> None:
        self.app, self.max_body, self.deadline_s = app, max_body, deadline_s
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="ivr-request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets: the hotline has none
            raise RuntimeError(f"unsupported ASGI scope {scope['type']!r}")
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1"))
                   for k, v in scope["headers"]]
        declared = next((v for k, v in headers if k == "content-length"), None)
        loop = asyncio.get_running_loop()
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body:
                body, length = b"", declared  # the app refuses it without reading it
            else:
                body = await self._read(receive, loop.time() + self.deadline_s)
                length = str(len(body))
        except (TimeoutError, BodyTimeout):
            log.warning("cut the request from %s: body not sent within %s s",
                        _client(scope), self.deadline_s)
            await _answer(send, "408 Request Timeout", [("Connection", "close")], [b""])
            return
        environ = _environ(scope, headers, body, length)
        status, answer_headers, chunks = await loop.run_in_executor(
            self.pool, _run, self.app, environ)
        await _answer(send, status, answer_headers, chunks)

    async def _read(self, receive: Receive, deadline: float) -> bytes:
        """The body, or its first ``max_body + 1`` bytes: past the limit is refused.

        The deadline is checked before each wait, not only by one ``wait_for`` around the
        whole read: before Python 3.12 a ``wait_for`` whose time runs out as a chunk
        arrives can lose its cancellation (bpo-42130), and a body trickled a byte at a time
        was then read for as long as it lasted.
        """
        loop = asyncio.get_running_loop()
        body = bytearray()
        while len(body) <= self.max_body:
            left = deadline - loop.time()
            if left <= 0:
                raise BodyTimeout("the deadline passed")
            message = await asyncio.wait_for(receive(), left)
            if message["type"] == "http.disconnect":
                raise BodyTimeout("the client went away")
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        return bytes(body[:self.max_body + 1])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=True)  # requests in their threads finish first
                await send({"type": "lifespan.shutdown.complete"})
                return


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "?"


def _environ(scope: Scope, headers: list[tuple[str, str]], body: bytes,
             length: str) -> dict[str, Any]:
    """PEP 3333's environ for an ASGI HTTP scope, with the body read already."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    query = scope["query_string"].decode("latin-1")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]) if server[1] is not None else "80",
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0] if client else "",
        "REMOTE_PORT": str(client[1]) if client else "",
        "CONTENT_LENGTH": length,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    raw_path = scope.get("raw_path")
    if raw_path:
        # the target as the client sent it, percent-encoding and all, as gunicorn's own
        # WSGI workers give it: Twilio signs that form (``ivr.web.signature.public_url``),
        # which werkzeug's decoded path would have to be encoded again to give
        environ["RAW_URI"] = raw_path.decode("latin-1") + (f"?{query}" if query else "")
    for name, value in headers:
        if name == "content-length":
            continue
        key = "CONTENT_TYPE" if name == "content-type" else \
            "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _run(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]],
                                                          list[bytes]]:
    """Run the WSGI app in this thread; its status, headers and body chunks."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return chunks.append

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started[0], started[1], chunks


async def _answer(send: Send, status: str, headers: list[tuple[str, str]],
                  chunks: list[bytes]) -> None:
    await send({"type": "http.response.start", "status": int(status.split(" ", 1)[0]),
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                            for k, v in headers]})
    await send({"type": "http.response.body", "body": b"".join(chunks)})
