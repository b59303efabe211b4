"""``ivr graph``: being built."""

from __future__ import annotations

import click


@click.command("graph")
def graph_command() -> None:
    """(being built)"""
    raise click.ClickException("ivr graph is not built yet")
