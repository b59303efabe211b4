"""Counts in English as the commands print them: "1 call", "2 calls", never "call(s)"; the
commands' tables, their columns aligned; and shares written one way (``33.3 %``).

For the operator's terminal and logs only; what a caller hears is worded per language in
the prompt catalog. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``noun`` for a count of one, else ``many`` (by default ``noun`` + "s")."""
    return noun if count == 1 else many or noun + "s"


def counted(count: int, noun: str, many: str | None = None) -> str:
    """``3 calls``, ``1 call``: the count and its noun."""
    return f"{count} {plural(count, noun, many)}"


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """The rows as lines, each column as wide as its widest cell, two spaces between."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


# -- issue 24: one format for shares -----------------------------------------------------
#: a share as the report, the tree's picture and the console write it, in both languages
PERCENT = "{:.1f} %"


def percent(share: float | None) -> str:
    """A share (0 to 1) written the one way: ``33.3 %``; ``-`` when there is none."""
    return "-" if share is None else PERCENT.format(share * 100)
