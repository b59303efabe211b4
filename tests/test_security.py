"""Signatures, secrets and the lockout: what must hold for a real phone number."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from conftest import TOKEN, Caller
from flask import request
from twilio.request_validator import HMAC_SHA256, RequestValidator

from ivr import create_app
from ivr.errors import ConfigError

pytestmark = pytest.mark.both_backends

PARAMS = {"CallSid": "CA" + "1" * 32, "From": "+8613700000000", "To": "+8695188"}


def test_unsigned_and_wrongly_signed_requests_get_403(client):
    assert client.post("/voice", data=PARAMS).status_code == 403
    bad = RequestValidator("not-the-token").compute_signature("http://localhost/voice", PARAMS)
    assert client.post("/voice", data=PARAMS, headers={"X-Twilio-Signature": bad}).status_code == 403
    good = RequestValidator(TOKEN).compute_signature("http://localhost/voice", PARAMS)
    tampered = {**PARAMS, "From": "+8613800138000"}
    assert client.post("/voice", data=tampered,
                       headers={"X-Twilio-Signature": good}).status_code == 403
    assert client.post("/voice", data=PARAMS,
                       headers={"X-Twilio-Signature": good}).status_code == 200


def test_behind_a_proxy_the_public_url_is_what_is_signed(settings):
    app = create_app({**settings, "PUBLIC_URL": "https://ivr.example.com"})
    client = app.test_client()
    public = RequestValidator(TOKEN).compute_signature("https://ivr.example.com/voice", PARAMS)
    assert client.post("/voice", data=PARAMS,
                       headers={"X-Twilio-Signature": public}).status_code == 200
    # and the TwiML points Twilio back at the public host
    assert b'action="https://ivr.example.com/voice/step/language?t=1"' in client.post(
        "/voice", data=PARAMS, headers={"X-Twilio-Signature": public}).data
    internal = RequestValidator(TOKEN).compute_signature("http://localhost/voice", PARAMS)
    assert client.post("/voice", data=PARAMS,
                       headers={"X-Twilio-Signature": internal}).status_code == 403


def test_sha256_signatures_when_the_settings_header_asks(settings):
    app = create_app({**settings, "TWILIO_WEBHOOK_SHARED_KEY": "shared-secret"})
    client = app.test_client()
    signature = RequestValidator("shared-secret").compute_signature(
        "http://localhost/voice", PARAMS, HMAC_SHA256)
    headers = {"X-Twilio-Signature": signature,
               "X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_SHA256"}
    assert client.post("/voice", data=PARAMS, headers=headers).status_code == 200
    del headers["X-Twilio-Webhooks-Signature-Settings"]
    assert client.post("/voice", data=PARAMS, headers=headers).status_code == 403


def test_a_token_is_required_unless_in_dev_mode(tmp_path):
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN is required"):
        create_app({"DATABASE": str(tmp_path / "a.db")})
    app = create_app({"DEV": True, "DATABASE": str(tmp_path / "b.db")})
    assert app.test_client().post("/voice", data=PARAMS).status_code == 200


@pytest.mark.parametrize("token", [None, TOKEN])
def test_dev_mode_from_the_environment_is_refused_by_the_app_factory(settings, monkeypatch,
                                                                     token):
    """``gunicorn 'ivr:create_app()'`` or ``flask --app ivr run`` with IVR_DEV=true."""
    monkeypatch.setenv("IVR_DEV", "true")
    with pytest.raises(ConfigError, match="IVR_DEV") as error:
        create_app({**settings, "TWILIO_AUTH_TOKEN": token})
    assert "ivr serve --dev" in str(error.value)
    # asked for by the caller that may (``ivr serve --dev`` passes it), it starts
    app = create_app({**settings, "TWILIO_AUTH_TOKEN": None, "DEV": True})
    assert app.test_client().post("/voice", data=PARAMS).status_code == 200


def test_bad_settings_are_all_listed(tmp_path):
    with pytest.raises(ConfigError) as error:
        create_app({"DEV": True, "DATABASE": str(tmp_path / "a.db"), "LOCKOUT_S": -1,
                    "PUBLIC_URL": "ivr.example.com"})
    assert "LOCKOUT_S" in str(error.value) and "PUBLIC_URL" in str(error.value)


def wrong_pin_call(client, pin="581230"):
    call = Caller(client, "+8613700000000")
    call.start()
    call.keys("2", "2", "1", "10000003#", pin)
    return call


def test_five_wrong_pins_over_several_calls_lock_and_the_lock_survives_restart(
        settings, caplog, clock):
    caplog.set_level(logging.DEBUG)
    app = create_app(settings)
    client = app.test_client()
    first = wrong_pin_call(client)
    first.keys("10000003#", "581231", "10000003#", "581232")  # 3 tries: this call gives up
    assert first.said("we could not verify your identity")
    assert first.queue == "account-security"  # the topic's queue (locked), unverified
    second = wrong_pin_call(client, "581233")
    second.keys("10000003#", "581234")
    assert second.said("is locked for") and second.queue == "account-security"

    restarted = create_app(settings).test_client()  # a new process on the same database
    third = Caller(restarted)
    third.start()
    third.keys("2", "2", "1", "10000003#")
    assert third.said("is locked for")  # not even asked for the PIN
    assert third.queue == "account-security"

    # nothing kept the PINs: not the logs, not any column of any table
    pins = ["581230", "581231", "581232", "581233", "581234", "112233"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    store = app.extensions["ivr"].store
    stored = "\n".join(str(tuple(row)) for t in sorted(store.database.tables())
                       for row in store.read_all(f"SELECT * FROM {t}"))
    for pin in pins:
        assert pin not in logged and pin not in stored
    events = [r[0] for r in store.read_all("SELECT input FROM call_events WHERE node='identify'")]
    assert "******" in events and "****0003" in events
    assert "10000003" not in logged


def test_the_lockout_book_keys_accounts_by_an_hmac_with_the_server_secret(settings, clock):
    # clock: account security answers (at night its team is told closed before any PIN)
    keys = []
    for secret in ("one-secret", "another-secret"):  # one database, kept by two secrets
        app = create_app({**settings, "SECRET_KEY": secret})
        wrong_pin_call(app.test_client())
        key = app.extensions["ivr"].store.read_one(
            "SELECT account_key FROM pin_attempts ORDER BY id DESC")[0]
        expected = hmac.new(secret.encode(), b"a:10000003", hashlib.sha256).hexdigest()
        assert key == f"a:{expected[:32]}"
        keys.append(key)
    assert keys[0] != keys[1]  # another secret, another key: the table alone says nothing
    plain = {hashlib.sha256(text).hexdigest()[:32] for text in (b"10000003", b"a:10000003")}
    assert not {k.removeprefix("a:") for k in keys} & plain


def test_the_lock_expires_after_its_time(settings):
    from freezegun import freeze_time

    with freeze_time("2026-11-23 02:00:00") as clock:
        app = create_app(settings)
        client = app.test_client()
        call = wrong_pin_call(client)
        call.keys("10000003#", "581231", "10000003#", "581232")
        call = wrong_pin_call(client)
        call.keys("10000003#", "581234")
        assert call.said("is locked for")
        clock.tick(31 * 60)
        ok = Caller(client)
        ok.start()
        ok.keys("2", "2", "1", "10000003#", "112233")
        assert ok.said("you are verified")


def test_a_signature_over_the_url_with_or_without_its_port_is_accepted(settings):
    """The signature is computed once for the URL as it came; a request Twilio signed with
    the default port written out (or left out) still passes, through twilio's own check of
    both forms, and a wrong one still fails."""
    app = create_app({**settings, "PUBLIC_URL": "https://ivr.example.com"})
    client = app.test_client()
    for signed_url in ("https://ivr.example.com/voice", "https://ivr.example.com:443/voice"):
        signature = RequestValidator(TOKEN).compute_signature(signed_url, PARAMS)
        assert client.post("/voice", data=PARAMS,
                           headers={"X-Twilio-Signature": signature}).status_code == 200
    wrong = RequestValidator(TOKEN).compute_signature("https://ivr.example.com:8443/voice",
                                                      PARAMS)
    assert client.post("/voice", data=PARAMS,
                       headers={"X-Twilio-Signature": wrong}).status_code == 403


@pytest.mark.parametrize("public", [None, "https://ivr.example.com/", "https://h.example/ivr"])
@pytest.mark.parametrize("script_root", ["", "/hotline"])
def test_urls_built_by_hand_are_what_url_for_builds(settings, public, script_root):
    """The webhooks build their documents' URLs by hand (``webhooks.link``), off
    ``url_for``'s cost; they must stay what ``absolute`` (``url_for``) gives."""
    from ivr.web.webhooks import absolute, link

    app = create_app({**settings, "PUBLIC_URL": public})
    odd = "a b/c?d#e%f&g=h:i@j~k 支付"
    with app.test_request_context("/voice", base_url=f"http://10.0.0.5:8000{script_root}"):
        for node in ("payments_menu", "lang", odd):
            assert link("/voice/step", node, t=3) == absolute("voice.step", node=node, t=3)
        assert link("/voice/wait", odd, t=7) == absolute("voice.wait", queue=odd, t=7)
        assert link("/voice/hold-key", "fraud", t=None) == absolute("voice.hold_key",
                                                                    queue="fraud")
        assert link("/voice/queue-done", t=2) == absolute("voice.queue_done", t=2)
        assert link("/voice/recording") == absolute("voice.recording")
        for path in ("zh-CN/welcome.wav", "en-US/a b&c.wav"):
            assert link("/audio", path) == absolute("audio.serve", path=path)


@pytest.mark.parametrize("base", ["http://10.0.0.5:8000", "https://ivr.example.com",
                                  "https://IVR.Example.com:443", "http://xn--fiq228c.example:80",
                                  "http://[::1]:8080", "https://h.example:8443/hotline"])
def test_the_host_root_kept_per_host_is_what_werkzeug_writes(settings, base):
    """``host_root`` is kept once a process per scheme and host; it must stay werkzeug's
    ``host_url`` for each request, whatever came before."""
    from ivr.web.signature import host_root

    app = create_app(settings)
    for _ in range(2):  # the second time from what was kept
        with app.test_request_context("/voice", base_url=base):
            assert host_root() == request.host_url.rstrip("/")
