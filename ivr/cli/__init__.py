"""The ``ivr`` command line: one module per command group, each a thin layer of click
over library functions; ``args`` holds the option types and checks they share.

The only importer of click. It sits on top of the house: it may import every room, and
no room imports it.
"""

from ivr.cli.main import cli

__all__ = ["cli"]
