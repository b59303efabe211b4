"""The ``ivr`` command as a user runs it: demo, serve under gunicorn, clear errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

from click.testing import CliRunner
from programs import needs_espeak

from ivr import create_app
from ivr.cli import cli
from ivr.sim import CallOptions, FlaskTransport, HTTPTransport, Script, simulate


def test_demo_plays_scripted_calls_to_their_queues():
    result = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "仍在处理中，资金通常会在48小时内到账" in result.output
    # a prompt is shown as its text, or as its audio file once `ivr audio build` has run
    assert "Your account is now frozen" in result.output or "freeze_done" in result.output
    for queue in ("payments", "fraud", "general"):
        assert f"in queue '{queue}'" in result.output
    assert "The expected wait is" in result.output  # the morning calls: short waits
    assert "For a callback, press 1" in result.output or "wait_offer" in result.output
    assert "We will call you back" in result.output  # the lunch-peak call


def test_serve_rejects_bad_arguments_and_missing_token(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--port", "70000"])
    assert result.exit_code == 2 and "70000" in result.output
    result = runner.invoke(cli, ["serve"], env={"IVR_DATABASE": str(tmp_path / "x.db"),
                                                "TWILIO_AUTH_TOKEN": ""})
    assert result.exit_code == 1 and "TWILIO_AUTH_TOKEN is required" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_serves_signed_calls_over_http(tmp_path):
    port = free_port()
    env = {"TWILIO_AUTH_TOKEN": "http-token", "IVR_DATABASE": str(tmp_path / "ivr.db"),
           "IVR_SECRET_KEY": "test-secret", "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(
        [sys.executable, "-c", "from ivr.cli import cli; cli()", "serve", "--demo",
         "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60  # a loaded machine starts the workers slowly
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "ivr serve did not answer /health in 60 s"
                time.sleep(0.1)
        script = "2 1 1 1 246810 h"  # hangs up after the self-service status: any hour
        trace = simulate(f"http://127.0.0.1:{port}/voice", transport=HTTPTransport(),
                         token="http-token", caller=Script.parse(script).caller(),
                         options=CallOptions(from_="+8613800138000"))
        assert any("Your top-up of 200 yuan" in line for line in trace.heard())
        # the same call in-process gives the same trace, but for the host in its URLs
        local = create_app({"TWILIO_AUTH_TOKEN": "http-token", "DEMO": True,
                            "DATABASE": str(tmp_path / "local.db")})
        same = simulate("http://localhost/voice", transport=FlaskTransport(local),
                        token="http-token", caller=Script.parse(script).caller(),
                        options=CallOptions(from_="+8613800138000", call_sid=trace.call_sid))
        over_http = trace.to_json().replace(f"http://127.0.0.1:{port}", "http://localhost")
        assert over_http == same.to_json()
        # concurrent calls, their steps spread over both workers, share state through SQLite
        from concurrent.futures import ThreadPoolExecutor

        def one(_: int) -> list[str]:
            return simulate(f"http://127.0.0.1:{port}/voice", transport=HTTPTransport(),
                            token="http-token", caller=Script.parse(script).caller(),
                            options=CallOptions(from_="+8613800138000")).heard()

        with ThreadPoolExecutor(8) as pool:
            heard = list(pool.map(one, range(16)))
        assert all(any("Your top-up of 200 yuan" in line for line in h) for h in heard)
        unsigned = urllib.request.Request(f"http://127.0.0.1:{port}/voice", data=b"CallSid=CA1")
        try:
            urllib.request.urlopen(unsigned, timeout=5)
            raise AssertionError("an unsigned request was answered")
        except urllib.error.HTTPError as err:
            assert err.code == 403
    finally:
        server.terminate()
        server.wait(timeout=10)


@needs_espeak
def test_call_with_audio_writes_the_call_as_long_as_its_trace(tmp_path):
    import json
    import wave

    wav = tmp_path / "call.wav"
    result = CliRunner().invoke(cli, ["call", "--press", "2 0", "--at", "wed 09:30", "--json",
                                      "--audio", str(wav)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    trace = json.loads(result.stdout)
    assert trace["outcome"]["queue"] == "general"
    with wave.open(str(wav)) as audio:
        assert audio.getframerate() == 8000 and audio.getnchannels() == 1
        seconds = audio.getnframes() / audio.getframerate()
    assert abs(seconds - trace["outcome"]["duration_s"]) <= 0.01 * seconds


def test_ivr_help_lists_every_command_with_its_own_help_and_loads_none_of_them():
    """``ivr --help`` shows each command's real help line without importing its module:
    no NumPy, holidays, simulator, tuning or web stack for a look at the commands."""
    import click

    launch = ("import sys; from ivr.cli import cli\n"
              "try: cli(['--help'], prog_name='ivr')\n"
              "except SystemExit: pass\n"
              "heavy = ('numpy', 'holidays', 'flask', 'twilio', 'yaml', 'ivr.flow.mandarin', 'ivr.sim', "
              "'ivr.tuning', 'ivr.queue', 'ivr.records.store')\n"
              "print('loaded:', sorted(m for m in sys.modules if m.startswith(heavy)))")
    lazy = subprocess.run([sys.executable, "-c", launch], capture_output=True, text=True,
                          check=True, env={"COLUMNS": "80", "PATH": ""}).stdout
    assert lazy.rstrip().endswith("loaded: []")
    # the same help from a plain group of the loaded commands, line for line
    context = click.Context(cli)
    loaded = click.Group("ivr", help=cli.help, params=cli.params, commands={
        name: cli.get_command(context, name) for name in cli.list_commands(context)})
    formatter = click.HelpFormatter(width=78)  # as click makes it for 80 columns
    loaded.format_help(click.Context(loaded, info_name="ivr"), formatter)
    assert lazy.split("Commands:")[1].split("loaded:")[0].rstrip() == \
        formatter.getvalue().split("Commands:")[1].rstrip()
