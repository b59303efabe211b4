"""The exceptions ivr raises, caught at the boundary.

    IVRError
     +-- MenuError      the menu tree or prompt catalog is invalid (carries every Problem)
     +-- StoreError     the database could not be read or written
     +-- ConfigError    a setting is missing or malformed

The CLI turns these into ``click.ClickException``; the webhooks turn anything into an
apology and the ``general`` queue.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from ivr.plural import counted


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in an ops-edited file, with where it is."""

    location: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.location}: {self.message}"


class IVRError(Exception):
    """Base of every error ivr raises on purpose."""


class MenuError(IVRError):
    """The menu tree or prompt catalog has problems; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem], source: str = "menu") -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source} is invalid ({counted(len(problems), 'problem')}):\n{lines}")


class StoreError(IVRError):
    """The database could not be read or written."""


class StoreUnreachable(StoreError):
    """No connection to the database came within the wait: asking it again now would
    wait as long once more."""


class ConfigError(IVRError):
    """A setting is missing or malformed."""


def close_match(word: str, candidates: Iterable[str], cutoff: float = 0.7) -> str | None:
    """The candidate ``word`` was most likely meant to be, if one is close enough: the
    "did you mean" of a Problem (a misspelt field, node, queue, prompt or language)."""
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None
