"""A fake of Twilio's Messages API for the tests: a real HTTP server on loopback.

    fake = FakeTwilio()          # listening on fake.url
    fake.answers = [500]         # the next post gets a 500, then 201s
    fake.posts                   # each post's path, form, and Basic auth user and password
    fake.close()
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT = "AC" + "1" * 32


class FakeTwilio:
    """Twilio's Messages API on a loopback port: each POST checked and kept; ``answers``
    holds the HTTP statuses to give the next posts (201 once they run out)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.answers: list[int] = []
        #: Twilio's error code for the 4xx answers (21211: an invalid 'To' number)
        self.code = 21211
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = self.headers.get("Authorization", "")
                user, _, password = base64.b64decode(auth.removeprefix("Basic ")).decode() \
                    .partition(":")
                with fake.lock:
                    fake.posts.append({"path": self.path, "form": form, "user": user,
                                       "password": password})
                    status = fake.answers.pop(0) if fake.answers else 201
                    sid = f"SM{len(fake.posts):032d}"
                body = ({"sid": sid, "status": "queued", "to": form.get("To"),
                         "body": form.get("Body")} if status == 201 else
                        {"code": 20500 if status >= 500 else fake.code, "status": status,
                         "message": "fake failure", "more_info": ""})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
