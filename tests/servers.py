"""A real ``ivr serve`` (gunicorn) in a subprocess, for tests that need the server itself:
its workers, threads and sockets, not only the app through the test client.

    with serve(tmp_path) as server:
        reply = server.post("/voice", {"CallSid": "CA" + "1" * 32, ...})

The server runs in its own process group on a free loopback port, with the test token,
the demo accounts (cheap PIN hashes) and its database and audio folder under
``tmp_path``; every ``IVR_*`` and ``TWILIO_*`` variable of the calling shell is dropped.
At the end the whole group is killed; when the block raises (or the server does not
start) the server's output is printed, so pytest shows it with the failure.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token"
START_TIMEOUT_S = 30.0

_LAUNCH = "import sys; from ivr.cli import cli; sys.exit(cli(prog_name='ivr'))"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, read whole."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    elapsed_s: float


@dataclass
class Server:
    """A running ``ivr serve``: where it listens, its token, its process and its output."""

    host: str
    port: int
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def sign(self, path: str, params: Mapping[str, str]) -> str:
        """``X-Twilio-Signature`` for a POST of ``params`` to ``path`` (with its query)."""
        return RequestValidator(self.token).compute_signature(self.url + path, dict(params))

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout_s: float = 10.0) -> Reply:
        """One request on a fresh connection; a server that does not answer in
        ``timeout_s`` raises ``TimeoutError`` instead of hanging the test."""
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            data = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         data, time.perf_counter() - started)
        finally:
            conn.close()

    def post(self, path: str, params: Mapping[str, str], *, signed: bool = True,
             timeout_s: float = 10.0) -> Reply:
        """A form POST the way Twilio sends it, signed with the server's token unless told."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signed:
            headers["X-Twilio-Signature"] = self.sign(path, params)
        return self.request("POST", path, urlencode(params).encode(), headers, timeout_s)

    def output(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group, arbiter and workers, as a host that dies: no
        request finishes, nothing is cleaned up. Returns once the port refuses connections
        (every process holding the socket gone). The arbiter is reaped when ``serve``'s
        block ends, so until then its group id stays ours."""
        os.killpg(self.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1.0).close()
            except ConnectionRefusedError:
                return
            except OSError:
                pass
            time.sleep(0.01)
        raise TimeoutError(f"{self.url} still accepts connections after SIGKILL")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_env(tmp_path: Path, token: str = TOKEN,
               env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server: the calling one without its IVR/Twilio settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    base.update({
        "TWILIO_AUTH_TOKEN": token,
        "IVR_DATABASE": str(tmp_path / "ivr.db"),
        "IVR_DEMO": "true",
        "IVR_PIN_HASH_N": "16",
        "IVR_AUDIO_DIR": str(tmp_path / "audio"),
        "IVR_SECRET_KEY": "test-secret",
        "PYTHONUNBUFFERED": "1",
    })
    base.update(env or {})
    return base


@contextmanager
def serve(tmp_path: Path, workers: int = 2, env: Mapping[str, str] | None = None,
          extra_args: Sequence[str] = ()) -> Iterator[Server]:
    """Start ``ivr serve --workers N`` on a free loopback port; yield it once its workers
    have booted and /health answers."""
    host, token = "127.0.0.1", (env or {}).get("TWILIO_AUTH_TOKEN", TOKEN)
    log_path = tmp_path / f"server-{time.monotonic_ns()}.log"
    server: Server | None = None
    for _attempt in range(3):  # another process may take the free port before gunicorn binds
        port = free_port(host)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, "serve", "--host", host, "--port", str(port),
                 "--workers", str(workers), *extra_args],
                env=server_env(tmp_path, token, env), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(host, port, token, process, log_path)
        try:
            if _wait_healthy(server, workers):
                break
        except BaseException:
            _stop(process)
            raise
        _stop(process)
        if "in use" not in server.output():
            break
    assert server is not None
    if _exited(server.process):
        print(server.output(), file=sys.stderr)
        raise RuntimeError(f"ivr serve did not start (exit {server.process.returncode})")
    try:
        yield server
    except BaseException:
        print(f"--- ivr serve output ({log_path}) ---\n{server.output()}", file=sys.stderr)
        raise
    finally:
        _stop(server.process)


def _wait_healthy(server: Server, workers: int) -> bool:
    """True once every worker has booted and GET /health answers 200; False if the process
    exits first. (gunicorn starts its workers one after another: /health may answer while
    the last one is still booting, and a test of N workers wants N.)"""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _exited(server.process):
            return False
        try:
            if (server.output().count("Booting worker") >= workers
                    and server.request("GET", "/health", timeout_s=2.0).status == 200):
                return True
        except OSError:
            pass
        time.sleep(0.1)
    print(server.output(), file=sys.stderr)
    raise TimeoutError(f"ivr serve did not answer /health in {START_TIMEOUT_S:.0f} s")


def _exited(process: subprocess.Popen[Any]) -> bool:
    """Whether the server process has exited, without reaping it (see ``_stop``)."""
    if process.returncode is not None:
        return True
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _stop(process: subprocess.Popen[Any]) -> None:
    """Stop the server's whole process group (arbiter and workers): quick, then forced.

    The arbiter is reaped only after the group is killed: until then its pid, which is the
    group's id, cannot be reused, so the signals reach our processes and no others.
    """
    if process.returncode is None:
        with suppress(ProcessLookupError):
            # gunicorn's quick shutdown; the arbiter stops its workers (a worker sent SIGINT
            # by us and SIGQUIT by the arbiter at once sometimes hangs on its way out)
            os.kill(process.pid, signal.SIGINT)
        deadline = time.monotonic() + 5
        while not _exited(process) and time.monotonic() < deadline:
            time.sleep(0.05)
        with suppress(ProcessLookupError):  # a stuck arbiter, or workers that outlived it
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()
