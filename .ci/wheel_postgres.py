"""The installed wheel on a real PostgreSQL, run from outside the checkout (by .ci/run).

A throwaway server from the system's binaries (tests/pg.py, the tests' own), then what a
deployment moving to PostgreSQL does: ``ivr db upgrade`` and ``status``, ``ivr db copy``
of the demo's SQLite file, ``ivr report`` on the copy, ``ivr serve`` on it answering
/health and a signed call over HTTP, and ``ivr replay --calls`` of the calls it holds. Exits non-zero, with the output, on the first thing that fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import pg  # noqa: E402  (the tests' throwaway server; it imports nothing of ivr)


def run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(args)}\n{done.stdout}{done.stderr}")
    return done.stdout


def main() -> None:
    assert "ivr" not in sys.modules and not Path("ivr").exists()
    server = pg.PostgresServer.start()
    try:
        url, copy = server.fresh_database(), server.fresh_database()
        run("ivr", "db", "upgrade", "--db", url)
        status = json.loads(run("ivr", "db", "status", "--db", url, "--json"))
        assert status["version"] == status["latest"], status
        run("ivr", "db", "copy", "--from", "demo.db", "--to", copy)
        report = json.loads(run("ivr", "report", "--db", copy, "--json"))
        assert report["calls"] == 5, report["calls"]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "TWILIO_AUTH_TOKEN": "ci", "IVR_SECRET_KEY": "ci-secret",
               "IVR_DATABASE": copy}
        serve = subprocess.Popen(["ivr", "serve", "--port", str(port), "--workers", "2"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as answer:
                        assert json.load(answer)["status"] == "ok"
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                serve.terminate()
                sys.exit("ivr serve on PostgreSQL did not answer /health:\n"
                         + serve.communicate()[0].decode())
            # a whole call over HTTP, signed, then replayed from the records it left there:
            # to the fraud line, open 24 hours (the server's clock is the real one, and the
            # other lines close at night)
            call = json.loads(run("ivr", "call", "--url", f"http://127.0.0.1:{port}",
                                  "--token", "ci", "--lang", "en-US", "--press",
                                  "3 10000001# 246810 2", "--json"))
            assert call["outcome"]["queue"] == "fraud", call["outcome"]
            replayed = run("ivr", "replay", "--calls", copy).splitlines()
            assert replayed[-1].startswith("6 calls replayed"), replayed[-1]
        finally:
            serve.terminate()
            serve.wait(30)
        print(f"PostgreSQL: upgrade, status, copy ({report['calls']} calls), report, serve "
              f"(/health and a call) and replay all worked")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
