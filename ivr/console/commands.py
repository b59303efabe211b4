"""``ivr ops``: the console's users (being built)."""

from __future__ import annotations

import click


@click.group("ops")
def ops_group() -> None:
    """The ops console's users."""
