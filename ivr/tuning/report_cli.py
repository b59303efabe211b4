"""``ivr report``: being built."""

from __future__ import annotations

import click


@click.command("report")
def report_command() -> None:
    """(being built)"""
    raise click.ClickException("ivr report is not built yet")
