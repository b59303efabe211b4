"""ivr.records.live: the callers waiting and in the IVR now, and the caller an agent took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.records import live

pytestmark = pytest.mark.both_backends


def test_waiting_in_the_ivr_and_taken_by_an_agent(app, caller, clock):
    store = app.extensions["ivr"].store
    first = caller()
    first.start()
    first.keys("2", "0")  # English, an agent: queued for general
    assert first.queue == "general"
    clock.tick(30)
    second = caller("+8613700000002")
    second.start()
    second.keys("2", "0")
    browsing = caller("+8613700000003")
    browsing.start()
    browsing.press("2")  # at the main menu
    now = datetime.now(UTC)
    queued = live.waiting(store, now)
    assert [w.call_sid for w in queued] == [first.sid, second.sid]  # longest first
    assert queued[0].waited_s(now) == 30 and queued[0].lang == "en-US"
    assert live.waiting(store, now, ("payments",)) == []
    assert live.in_ivr(store, now) == {"main": 1}

    assert live.record_bridge(store, first.sid, "wang", 30, now)
    assert not live.record_bridge(store, first.sid, "li", 31, now)  # the first bridge stands
    assert [w.call_sid for w in live.waiting(store, now)] == [second.sid]
    taken = live.current_caller(store, "wang", now)
    assert taken is not None and taken["call_sid"] == first.sid and taken["wait_s"] == 30
    assert taken["lang"] == "en-US" and taken["queue"] == "general"
    assert live.answered_waits(store, now - timedelta(hours=1)) == {"general": [30]}
    first.send("/voice/status", CallStatus="completed", CallDuration="95")
    assert live.current_caller(store, "wang", now) is None
