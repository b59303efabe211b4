"""``python -m ivr ...``: the ``ivr`` command, where its script is not on the PATH."""

from ivr.cli import cli

cli(prog_name="ivr")
