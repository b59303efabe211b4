"""The speech figures of ``ivr report``: per speech menu, what the callers who spoke got.

The call records keep no words (issue 13): a step that heard a spoken answer, or the answer
confirming one, keeps ``call_events.heard``, a JSON object with the ``outcome`` (see
``ivr.flow.call.Heard``) and the ``target`` matched. Per speech menu (a menu of the trees given
that takes speech, or a node where spoken answers were recorded), each figure counts
*calls*, a call once per figure however often it spoke there:

- ``reached``: calls that entered the menu; ``spoke``: calls that said something there
  (``matched``, ``confirm``, ``unmatched`` or ``keypad``), ``spoke_share`` of ``reached``;
- ``matched``: routed at once; ``asked_to_confirm``: a weak or tied match, asked about,
  then ``confirmed`` (1 or a spoken yes) or ``declined`` (anything else, or silence);
- ``reasked``: no match, asked again in other words; ``keypad``: sent to the keypad menu
  (no match twice, or declined);
- ``routed``: calls routed by speech (matched or confirmed), ``routed_share`` of ``spoke``;
- ``targets``: per target, the calls speech routed there, most first.

Counting only: ``ivr.tuning.report`` reads the records and renders nothing here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

#: the outcomes of a spoken answer to the menu (a confirmation's answer is not one)
SPOKEN = frozenset({"matched", "confirm", "unmatched", "keypad"})
FIGURES = ("spoke", "matched", "asked_to_confirm", "confirmed", "declined", "reasked", "keypad",
           "routed")
#: the figures each recorded outcome counts in
_COUNTS = {"matched": ("spoke", "matched", "routed"), "confirm": ("spoke", "asked_to_confirm"),
           "unmatched": ("spoke", "reasked"), "keypad": ("spoke", "keypad"),
           "confirmed": ("confirmed", "routed"), "declined": ("declined", "keypad")}


def heard(text: str | None) -> dict[str, Any] | None:
    """A step's ``heard`` column as written by ``ivr.records.store`` (None: no speech there)."""
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


class SpeechTally:
    """The speech counts of one slice of calls; slices add up."""

    __slots__ = ("figures", "targets")

    def __init__(self) -> None:
        self.figures: Counter[tuple[str, str]] = Counter()  # (menu, figure) -> calls
        self.targets: Counter[tuple[str, str]] = Counter()  # (menu, target) -> calls

    def add(self, other: SpeechTally) -> None:
        self.figures.update(other.figures)
        self.targets.update(other.targets)

    def count(self, answers: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """One call's spoken answers and confirmations, (menu, heard) in order."""
        figures: set[tuple[str, str]] = set()
        targets: set[tuple[str, str]] = set()
        for menu, said in answers:
            outcome = said.get("outcome")
            for figure in _COUNTS.get(str(outcome), ()):
                figures.add((menu, figure))
            if outcome in ("matched", "confirmed") and said.get("target"):
                targets.add((menu, str(said["target"])))
        self.figures.update(figures)
        self.targets.update(targets)

    def summary(self, reached: Counter[str], speech_menus: frozenset[str]
                ) -> dict[str, dict[str, Any]]:
        """Per speech menu reached (``reached``: calls per node), its figures."""
        menus = {m for m, _ in self.figures} | {m for m in speech_menus if reached[m]}
        found: dict[str, dict[str, Any]] = {}
        for menu in sorted(menus):
            entry: dict[str, Any] = {"reached": reached[menu],
                                     **{f: self.figures[(menu, f)] for f in FIGURES}}
            spoke, calls = entry["spoke"], entry["reached"]
            entry["spoke_share"] = round(spoke / calls, 4) if calls else None
            entry["routed_share"] = round(entry["routed"] / spoke, 4) if spoke else None
            counts = [(target, n) for (m, target), n in self.targets.items() if m == menu]
            entry["targets"] = dict(sorted(counts, key=lambda c: (-c[1], c[0])))
            found[menu] = entry
        return found
