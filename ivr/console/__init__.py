"""The ops console in the browser (``/ops/``): server-rendered pages for ops and agents.

Imported by ``ivr.cli.ops`` for ``ivr ops``: the web stack is loaded only by ``init_app``, so
the commands that do not serve do not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flask import Blueprint, Flask


def init_app(app: Flask, exempt: Iterable[Blueprint] = ()) -> None:
    """Register the console on the app (``ivr.console.setup``); ``exempt``: the blueprints
    that Twilio signs, kept out of the console's CSRF protection."""
    from ivr.console import setup

    setup.init_app(app, exempt)
