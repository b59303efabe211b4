"""Log lines: each starts with its time, and a request cannot write a line of its own.

A ``%0A`` in the path of a refused request, or a CR/LF in a field the app logs, once
wrote a line that read like the app's (``WARNING ivr.records.lockouts: phone verification
unlocked by support ...``). Checked where the lines are written: a real ``ivr serve``
(the command's logging, inherited by gunicorn's workers), and an app made by
``create_app`` alone, as ``gunicorn 'ivr:create_app()'`` runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import TOKEN, sign
from servers import serve, server_env

FORGED = "WARNING ivr.records.lockouts: phone verification unlocked by support for account ****0001"
FORGED_PATH = "/voice/step/main%0A%0D" + FORGED.replace(" ", "%20").replace("*", "%2A")
#: a line of ours or gunicorn's, starting with its time: 2026-12-07T05:21:29.272+0000 or
#: gunicorn's [2026-12-07 05:21:29 +0000]
STAMPED = re.compile(r"^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")


def lines_checked(output: str) -> list[str]:
    """The output's lines, each checked: it carries a time, and none is a forged one."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert STAMPED.match(line), f"a line without its time: {line!r}"
        assert not line.startswith(("WARNING", "ERROR", "INFO", "CRITICAL", "DEBUG")), line
    return lines


def test_a_served_line_has_its_time_and_a_request_writes_no_line_of_its_own(tmp_path):
    with serve(tmp_path, workers=1) as server:
        refused = server.request("POST", FORGED_PATH, b"CallSid=CA1",
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        assert refused.status == 403
        # a signed field the app logs: the recording Twilio names, matching no ticket
        params = {"CallSid": "CA" + "1" * 32, "RecordingSid": "RE1\r\n" + FORGED,
                  "RecordingStatus": "completed\n" + FORGED, "RecordingUrl": "https://x"}
        assert server.post("/voice/recording", params).status == 204
        output = server.output()
    lines = lines_checked(output)
    refusal = [line for line in lines if "rejected an unsigned" in line]
    assert len(refusal) == 1 and "\\n\\r" + FORGED in refusal[0]
    recording = [line for line in lines if "matches no complaint ticket" in line]
    # the webhook keeps 64 characters of RecordingSid
    assert len(recording) == 1 and "RE1\\r\\n" + FORGED[:40] in recording[0]


def test_an_app_made_by_create_app_alone_logs_stamped_escaped_lines(tmp_path):
    """As under ``gunicorn 'ivr:create_app()'``: nothing else configured logging."""
    url = "http://localhost/voice/fallback"
    params = {"CallSid": "CA1", "ErrorCode": "11200", "ErrorUrl": "https://x/\n" + FORGED}
    script = (
        "import sys; from ivr import create_app\n"
        f"app = create_app({{'TWILIO_AUTH_TOKEN': {TOKEN!r}, 'SECRET_KEY': 's', "
        f"'DATABASE': {str(tmp_path / 'ivr.db')!r}, 'AUDIO_DIR': {str(tmp_path)!r}}})\n"
        "client = app.test_client()\n"
        f"assert client.post({FORGED_PATH!r}).status_code == 403\n"
        f"assert client.post('/voice/fallback', data={params!r}, "
        f"headers={{'X-Twilio-Signature': {sign(url, params)!r}}}).status_code == 200\n")
    done = subprocess.run([sys.executable, "-c", script], env=server_env(tmp_path),
                          cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = lines_checked(done.stderr)
    assert any("rejected an unsigned" in line and "\\n\\r" + FORGED in line for line in lines)
