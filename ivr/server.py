"""Run the app under gunicorn, the server a deployment uses (not the Flask dev server)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def run_gunicorn(app: Flask, *, host: str, port: int, workers: int) -> None:
    """Serve ``app`` with ``workers`` sync workers; call state lives in the database."""
    _Gunicorn(app, {"bind": f"{host}:{port}", "workers": workers,
                    "accesslog": "-", "timeout": 30}).run()
