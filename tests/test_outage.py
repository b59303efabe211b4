"""A PostgreSQL outage with many calls in flight, against a real ``ivr serve`` (2 workers
of its default threads) on a real PostgreSQL that is stopped and started again: every webhook
answers its apology well inside Twilio's 15 s, and the line comes back by itself.

Before the circuit breaker each request waited the pool's 10 s for a connection, so past
the server's threads (32 then) they queued behind each other: 80 at once, 48 took 15 s or more,
and Twilio played its application error instead of the apology.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from itertools import count

import pytest
from pg import PostgresServer
from servers import Server, serve

from ivr.flow import prompts

pytestmark = pytest.mark.usefixtures("postgres_server")  # skipped as it is, without PostgreSQL

#: the issue's goal for 200 webhooks in an outage; Twilio gives up at 15 s
WITHIN_S = 11.0
_sids = count(1)


def webhook(server: Server) -> tuple[float, ET.Element | None]:
    """A new call's first webhook: how long its answer took, and the TwiML (None: no answer)."""
    params = {"CallSid": f"CA{next(_sids):032d}", "From": "+8613700000000", "To": "+8695188"}
    started = time.monotonic()
    try:
        reply = server.post("/voice", params, timeout_s=40)
    except OSError:  # a time-out, or the connection cut at the server's 15 s deadline
        return time.monotonic() - started, None
    took = time.monotonic() - started
    return took, ET.fromstring(reply.body) if reply.status == 200 else None


def apologised(root: ET.Element | None, apology: set[str]) -> bool:
    """The apology in every language (the call's own is not asked of a database that is
    down), then the general queue."""
    if root is None:
        return False
    enqueue = root.find("Enqueue")
    return {s.text for s in root.iter("Say")} == apology and enqueue is not None and \
        enqueue.text == "general"


def test_200_webhooks_in_an_outage_apologise_in_time_and_the_line_comes_back(tmp_path):
    catalog = prompts.load()
    apology = {catalog.text(lang, "apology") for lang in catalog.languages}
    database = PostgresServer.start()  # its own: it is stopped mid-test
    try:
        url = database.fresh_database()
        with serve(tmp_path, workers=2, env={"IVR_DATABASE": url}) as server:
            with ThreadPoolExecutor(max_workers=8) as pool:  # both workers' pools in use
                assert all(root is not None and root.find("Gather") is not None
                           for _, root in pool.map(lambda _: webhook(server), range(16)))
            database.down()
            with ThreadPoolExecutor(max_workers=200) as pool:
                answers = list(pool.map(lambda _: webhook(server), range(200)))
            late = sorted(round(took, 1) for took, _ in answers if took > WITHIN_S)
            assert not late, f"{len(late)} of 200 answered after {WITHIN_S:g} s: {late}"
            assert sum(apologised(root, apology) for _, root in answers) == 200
            assert server.request("GET", "/health").status == 503

            database.up()  # the app is not restarted: its probe finds the server back
            deadline = time.monotonic() + 30
            while server.request("GET", "/health").status != 200:
                assert time.monotonic() < deadline, "the line did not come back"
                time.sleep(0.2)
            took, root = webhook(server)
            assert root is not None and root.find("Gather") is not None, ET.tostring(root)
            assert "Server Error" not in server.output()
    finally:
        database.stop()
