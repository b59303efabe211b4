"""Counts in English as the commands print them: "1 call", "2 calls", never "call(s)".

For the operator's terminal and logs only; what a caller hears is worded per language in
the prompt catalog. Pure.
"""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``noun`` for a count of one, else ``many`` (by default ``noun`` + "s")."""
    return noun if count == 1 else many or noun + "s"


def counted(count: int, noun: str, many: str | None = None) -> str:
    """``3 calls``, ``1 call``: the count and its noun."""
    return f"{count} {plural(count, noun, many)}"
