"""The ops console in the browser (``/ops/``): being built."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the console on the app (being built)."""
