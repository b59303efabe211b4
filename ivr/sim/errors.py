"""What the simulator raises.

    SimError
     +-- TwiMLError      the app answered with something Twilio would refuse
     |                   (``code``: 11200 HTTP retrieval, 11215/11216 redirects, 11770
     |                   empty body, 12100 parse, 12102 root, 12300 Content-Type)
     +-- TransportError  the request never got an HTTP answer (connection refused, timeout)
     +-- ScenarioError   a scenario or call-log file is malformed

A TwiMLError or TransportError during a call never escapes ``simulate``: it becomes the
trace's ``error`` event and ``ended_by: "error"``, as Twilio logs it and hangs up.
"""

from __future__ import annotations


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""


class TwiMLError(SimError):
    """A document Twilio would refuse, with Twilio's error code, the URL and the body."""

    def __init__(
        self,
        code: int | None,
        message: str,
        url: str,
        document: str = "",
        status: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.url = url
        self.document = document
        self.status = status
        super().__init__(f"{code or 'error'}: {message} ({url})")


class TransportError(SimError):
    """The webhook got no HTTP response at all."""


class ScenarioError(SimError):
    """A scenario or call-log file cannot be used."""
