"""SMS follow-ups from a real ``ivr serve``: each gunicorn worker starts a background sender
after the fork, and of all of them the one holding the deployment's sender lease posts the
outbox to Twilio (here the fake on loopback): one text for one complaint, not one per
worker."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from fake_twilio import ACCOUNT, FakeTwilio
from servers import Server, serve

from ivr.web.sender import POLL_S

STRANGER = "+8613700000000"


def complaint(server: Server) -> None:
    """A complaint filed over HTTP: verified with account 10000001, recorded."""
    data = {"CallSid": "CA" + "7" * 32, "From": STRANGER, "To": "+8695188"}
    root = ET.fromstring(server.post("/voice", data, timeout_s=30).body)
    for answer in ("2", "4", "1", "10000001#", "246810", "1", "#"):
        record = root.find("Record")
        asking = record if record is not None else root.find("Gather")
        assert asking is not None, ET.tostring(root)
        action = urlsplit(asking.get("action", ""))
        extra = {"RecordingUrl": "https://api.twilio.com/rec/RE1", "RecordingDuration": "9"} \
            if record is not None else {}
        path = action.path + (f"?{action.query}" if action.query else "")
        reply = server.post(path, {**data, "Digits": answer, **extra}, timeout_s=30)
        assert reply.status == 200, reply.body
        root = ET.fromstring(reply.body)
    assert any("ticket number is" in (e.text or "") for e in root.iter("Say"))


def test_ivr_serve_sends_the_outbox_once_from_its_workers(tmp_path):
    twilio = FakeTwilio()
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT, "IVR_SMS_FROM": "+15005550006",
           "IVR_SMS_API_URL": twilio.url}
    try:
        with serve(tmp_path, workers=2, env=env) as server:
            complaint(server)
            deadline = time.monotonic() + 6 * POLL_S
            while not twilio.posts and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.5 * POLL_S)  # every worker has had a pass since
            assert len(twilio.posts) == 1, server.output()
            form = twilio.posts[0]["form"]
            assert form["To"] == STRANGER and "Ticket number" in form["Body"]
    finally:
        twilio.close()
