"""The ops console in the browser (``/ops/``): server-rendered pages for ops and agents.

Registered on the app by ``create_app``; ``ivr ops`` (``ivr.cli.ops``) uses its log-in
rules without the web stack, which only ``init_app`` loads. It shows what the hotline
(``ivr.hotline``), the records, the queue model, the tuning reports and a simulated day
(``ivr.plan``) know; it never
imports the Twilio edge (the app exempts the webhooks from its CSRF protection), the
simulator or the CLI.
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
