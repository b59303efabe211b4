"""The agents' end of the queues (``/agent/voice``): being built."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("agents", __name__, url_prefix="/agent")
