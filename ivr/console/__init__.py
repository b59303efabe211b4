"""The ops console in the browser (``/ops/``): server-rendered pages for ops and agents.

Imported by ``ivr.cli`` for ``ivr ops``: the web stack is loaded only by ``init_app``, so
the commands that do not serve do not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register the console on the app (``ivr.console.setup``)."""
    from ivr.console import setup

    setup.init_app(app)
