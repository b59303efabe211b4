"""Where a real webhook step's CPU goes, in this process (issue 21, finding 8).

The app ``ivr serve --demo`` builds (a throwaway SQLite file, the demo accounts, a random
Auth Token), driven as ``bench_webhook.py`` drives it: calls on new CallSids, each
``/voice``, the language key 1, then 9, every request signed as Twilio signs it. The
requests go through ``ivr.web.asgi.Buffered``, the adapter ``ivr serve`` runs the app
behind, one at a time; the static app of ``bench_webhook.py`` the same way, for the floor.

Printed: CPU per request (this process, all its threads) for both apps, then the real
app's profile (cProfile, the adapter's thread included), its top functions by time spent
in them and in what they call.

    python bench/profile_webhook.py                     # 1,500 calls, 30 lines
    python bench/profile_webhook.py --calls 300 --top 60 --sort tottime
    py-spy record --format raw -o steps.txt -- python bench/profile_webhook.py \
        --app real --no-cprofile --calls 4000          # sampled: no per-call overhead

cProfile's own cost per function call inflates code made of many small calls; a sampling
profiler's shares (py-spy) are the truer ones.

No HTTP server and no clients run: what gunicorn's event loop costs per request is the
rest of ``bench_webhook.py``'s "CPU ms" (the same for both apps).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import click
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_servers import _ACTION, caller_number  # noqa: E402

HOST = "127.0.0.1:8000"


def _scope(path: str, headers: dict[str, str], length: int) -> dict[str, Any]:
    """The ASGI scope gunicorn's asgi worker makes for a keep-alive POST."""
    raw = [(b"host", HOST.encode()), (b"user-agent", b"Python-urllib/3.11"),
           (b"accept-encoding", b"identity"), (b"content-length", str(length).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": path.partition("?")[2].encode(), "root_path": "",
            "headers": raw, "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}


class Driver:
    """Sends requests through an ASGI app on one event loop; returns each answer's body."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token
        self.loop = asyncio.new_event_loop()

    def post(self, path: str, params: dict[str, str]) -> str:
        body = urlencode(params).encode()
        url = f"http://{HOST}{path}"
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": RequestValidator(self.token).compute_signature(
                       url, params)}
        bare, _, query = path.partition("?")
        scope = _scope(bare, headers, len(body))
        scope["query_string"] = query.encode()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(self.app(scope, receive, send))
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{sent[0]['status']} from {path}")
        return bytes(sent[1]["body"]).decode()

    def call(self) -> None:
        """A new call: /voice, key 1, key 9, following each answer's Gather action."""
        params = {"CallSid": "CA" + secrets.token_hex(16), "From": caller_number(),
                  "To": "+8695188"}
        path = "/voice"
        for digits in (None, "1", "9"):
            answer = self.post(path, params if digits is None else {**params, "Digits": digits})
            found = _ACTION.search(answer)
            if found is None:
                raise RuntimeError(f"no Gather in the answer to {path}")
            path = found.group(1).replace("&amp;", "&").removeprefix(f"http://{HOST}")


class _Timed:
    """The WSGI app, with the CPU its thread spends in it counted (``cpu_s``)."""

    def __init__(self, app: Any) -> None:
        self.app, self.cpu_s = app, 0.0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        started = time.thread_time()
        try:
            return list(self.app(environ, start_response))
        finally:
            self.cpu_s += time.thread_time() - started


def _cpu_ms_per_request(driver: Driver, calls: int) -> tuple[float, float]:
    """CPU ms a request: the whole process's, and the app's own (its thread's in it)."""
    started = time.process_time()
    app = getattr(driver.app, "app", None)
    in_app = app.cpu_s if app else 0.0
    for _ in range(calls):
        driver.call()
    requests = calls * 3
    return ((time.process_time() - started) * 1000 / requests,
            ((app.cpu_s if app else 0.0) - in_app) * 1000 / requests)


def _apps(tmp: Path) -> tuple[Callable[[], Any], Callable[[], Any], str]:
    token = secrets.token_hex(16)
    os.environ.update(TWILIO_AUTH_TOKEN=token, IVR_SECRET_KEY=secrets.token_hex(32),
                      IVR_DATABASE=str(tmp / "ivr.db"), IVR_AUDIO_DIR=str(tmp / "a"),
                      IVR_DEMO="true")
    from bench_webhook import static_app

    from ivr.app import create_app
    from ivr.web.asgi import Buffered

    def served(app: Any) -> Any:
        return Buffered(_Timed(app), threads=1,
                        max_body=int(app.config["MAX_CONTENT_LENGTH"]), deadline_s=15)

    def real() -> Any:
        app = create_app({"DEMO": True})
        app.extensions["ivr"].store.database.serving()  # as a server's worker does
        return served(app)

    return real, lambda: served(static_app()), token


async def _document(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app answering the static document at once: what the driver itself costs."""
    from bench_webhook import DOCUMENT

    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/xml; charset=utf-8")]})
    await send({"type": "http.response.body", "body": DOCUMENT.encode()})


@click.command()
@click.option("--calls", default=1500, show_default=True, type=click.IntRange(10, 100_000))
@click.option("--top", default=30, show_default=True, type=click.IntRange(1, 500))
@click.option("--sort", default="cumulative", show_default=True,
              type=click.Choice(["cumulative", "tottime"]))
@click.option("--cprofile/--no-cprofile", default=True, show_default=True,
              help="Print the real app's profile (off: only the CPU per request, e.g. "
                   "under py-spy record).")
@click.option("--app", "only", type=click.Choice(["real", "static", "driver"]),
              help="Measure only this one (for a sampling profiler's record).")
def main(calls: int, top: int, sort: str, cprofile: bool, only: str | None) -> None:
    """CPU per request of the real and the static app, then the real app's profile."""
    with tempfile.TemporaryDirectory(prefix="ivr-profile-") as tmp:
        os.chdir(tmp)
        real, static, token = _apps(Path(tmp))
        drivers = {"real": Driver(real(), token), "static": Driver(static(), token),
                   "driver": Driver(_document, token)}
        drivers = {k: v for k, v in drivers.items() if only in (None, k)}
        for driver in drivers.values():  # warm: the pool's thread, caches, the first call
            _cpu_ms_per_request(driver, 50)
        for name, driver in drivers.items():
            total, in_app = _cpu_ms_per_request(driver, calls)
            what = (f"through ivr.web.asgi.Buffered; in the WSGI app {in_app:.3f} ms"
                    if name != "driver" else
                    "signing, the event loop: no app, included in the others")
            click.echo(f"{name:<7} {total:.3f} ms CPU a request ({what})")
        if not cprofile or "real" not in drivers:
            return
        stats = _profiled(drivers["real"], calls)
        total_ms = stats.total_tt * 1000 / (calls * 3)  # type: ignore[attr-defined]
        click.echo(f"\nprofile: {total_ms:.3f} ms a request under cProfile "
                   f"(its own cost inflates every figure; read the shares)")
        stats.sort_stats(sort).print_stats(top)


def _profiled(driver: Driver, calls: int) -> pstats.Stats:
    """``calls`` calls of ``driver`` under cProfile, the event loop's thread and the pool's
    thread that runs the app both."""
    if sys.version_info >= (3, 12):
        # cProfile rides on sys.monitoring, whose events come from every thread, and a
        # second profiler at once is refused ("Another profiling tool is already active")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(calls):
            driver.call()
        profile.disable()
        return pstats.Stats(profile)
    # before 3.12 a profiler sees only its own thread: one for this thread (the event
    # loop, the adapter) and one for the pool's, their figures added
    loop_profile, app_profile = cProfile.Profile(), cProfile.Profile()
    pool = driver.app.pool
    pool.submit(app_profile.enable).result()
    loop_profile.enable()
    for _ in range(calls):
        driver.call()
    loop_profile.disable()
    pool.submit(app_profile.disable).result()
    return pstats.Stats(loop_profile).add(app_profile)


if __name__ == "__main__":
    main()
