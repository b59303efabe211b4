"""Which recording URLs are kept and linked: Twilio's own, over https.

A RecordingUrl comes in a webhook's form, signed but saying whatever the form said
(``javascript:``, another site); a complaint's recording and a survey comment keep or
link it only when it is on Twilio's recordings host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: where Twilio keeps recordings: the only host a recording is linked to
RECORDINGS_HOST = "api.twilio.com"


def twilio_recording(url: str | None) -> str | None:
    """``url`` as a link, when it is Twilio's over https; else None."""
    try:
        parts = urlsplit(url or "")  # drops tabs and newlines, as a browser would
        port = parts.port
    except ValueError:  # a port out of range, a bracket not closed
        return None
    if parts.scheme != "https" or parts.hostname != RECORDINGS_HOST or port not in (None, 443) \
            or parts.username is not None:
        return None
    return parts.geturl()
