"""``ivr menu``: commands about tree files (``ivr menu diff``)."""

from __future__ import annotations

import click


@click.group("menu")
def menu_group() -> None:
    """Compare menu trees."""
