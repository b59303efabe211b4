"""``ivr tune``: being built."""

from __future__ import annotations

import click


@click.command("tune")
def tune_command() -> None:
    """(being built)"""
    raise click.ClickException("ivr tune is not built yet")
