"""ivr: the phone hotline of a digital wallet, answering a Twilio number with TwiML.

``create_app`` is imported on first use, not here: every ``ivr`` command imports this
package, and only the commands that serve or call the app need Flask and Werkzeug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivr.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ivr.app import create_app

        return create_app
    raise AttributeError(f"module 'ivr' has no attribute {name!r}")
