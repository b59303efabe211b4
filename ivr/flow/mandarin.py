"""Mandarin as the speech matching reads it: a sentence cut into words, and whether two
words may sound alike, from two small tables in ``ivr/data`` (``tools/make_mandarin_tables.py``
made them from jieba's and pypinyin's dictionaries).

- **Words** (``han_words.txt``, ``han_places.txt``): the 349,000 words of jieba's
  dictionary, each with a cost (-log of its frequency share, x100), kept as one string per
  first character to search (3 MiB, where jieba's dictionary is 65), and jieba's model of
  unknown words. A sentence is cut as jieba cuts it: the cut whose words cost least in
  all, a character it does not know being a word of the highest cost; then characters
  left alone in a row are cut by the model. The tree's keywords are added as common
  words, so 没到账 stays one word and is not 没到 + 账.
- **Sounds** (``han_sounds.txt``): each character's commonest reading and the readings the
  phrases of pypinyin's dictionary give it, tones aside. Two words sound alike when each
  character of one may be read as the other's is: 冲值 and 充值, 银航卡 and 银行卡 (行 reads
  hang in 银行).

The two dictionaries cost each server worker 122 MiB and this module's tables about 5
(issue 21); both are read once, with the tree, before the workers fork.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
#: the cost of a word the table does not know: a character alone, as jieba rates one
UNKNOWN = 1791
#: the cost of a keyword of the tree: a common word (jieba's frequency 50,000)
KEYWORD = 709
#: jieba's model of unknown words (``finalseg``): the cost of the first character's place
#: (Begins a word or is Single), and of each place after each
FIRST = {"B": 26, "S": 147}
AFTER = {"B": {"E": 51, "M": 92}, "E": {"B": 59, "S": 81}, "M": {"E": 33, "M": 126},
         "S": {"B": 72, "S": 67}}
#: the places a character may follow
BEFORE = {"B": "ES", "M": "MB", "S": "SE", "E": "BM"}
#: a character never seen in a place (jieba: -3.14e100)
NEVER = 10**9
#: the longest word looked up
LONGEST = 8
#: a cost is written in ``han_words.txt`` as this character plus the cost
COST = 0xE000
#: a place a character never has, in ``_places``
NO_PLACE = 0xF8FF


def _rows(name: str, sep: str | None = " ") -> Iterable[tuple[str, str]]:
    """The file's lines, as read: not the whole file at once, whose copies would stay in
    every worker's memory as holes."""
    with (DATA / name).open(encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if sep:
                first, _, second = line.partition(sep)
                yield first, second
            else:
                yield line[0], line[1:]


@lru_cache(maxsize=1)
def _by_first() -> dict[str, str]:
    """First character -> ``|rest<cost>|rest<cost>...`` of the words it starts, sorted."""
    return dict(_rows("han_words.txt", ""))


def known(word: str) -> int | None:
    """The cost of a word of the dictionary; None for one it does not have."""
    found = _by_first().get(word[0])
    if found is None:
        return None
    # sorted, so the word itself comes before the longer words it starts
    at = found.find("|" + word[1:])
    end = at + len(word)
    if at < 0 or end >= len(found) or found[end] < chr(COST):
        return None
    return ord(found[end]) - COST


def _slot(char: str) -> int | None:
    """Where a Chinese character (``ivr.menu.phrases.HAN``) is in the tables by character:
    Extension A and the Unified Ideographs, then the compatibility ideographs."""
    code = ord(char)
    if 0x3400 <= code <= 0x9FFF:
        return code - 0x3400
    if 0xF900 <= code <= 0xFAFF:
        return code - 0xF900 + 0xA000 - 0x3400
    return None


#: the table slots: one per Chinese character
SLOTS = 0xA000 - 0x3400 + 0xFB00 - 0xF900


@lru_cache(maxsize=1)
def _places() -> str:
    """Four characters per slot: the costs of its places in a word (B, M, E, S), each as
    ``COST`` + cost, ``NO_PLACE`` for never. One string, not a dict of 14,600 entries: its
    pages stay shared by the workers, as nothing in them is counted or written."""
    table = array("H", [NO_PLACE]) * (4 * SLOTS)
    for char, costs in _rows("han_places.txt"):
        slot = _slot(char)
        if slot is not None:
            for place, cost in enumerate(costs.split()):
                table[4 * slot + place] = NO_PLACE if cost == "-" else COST + int(cost)
    return table.tobytes().decode("utf-16-le" if sys.byteorder == "little" else "utf-16-be")


def _place_cost(char: str, place: int) -> int:
    slot = _slot(char)
    cost = ord(_places()[4 * slot + place]) if slot is not None else NO_PLACE
    return NEVER if cost == NO_PLACE else cost - COST


def guess(text: str) -> list[str]:
    """Characters no word of the dictionary covers, as jieba's model of unknown words cuts
    them (Viterbi over each character's place: 想换个 is one word)."""
    best = {p: (FIRST.get(p, NEVER) + _place_cost(text[0], i), p) for i, p in enumerate("BMES")}
    for char in text[1:]:
        best = {p: min((best[q][0] + AFTER[q].get(p, NEVER) + _place_cost(char, i),
                        best[q][1] + p) for q in BEFORE[p]) for i, p in enumerate("BMES")}
    places = min(best["E"], best["S"])[1]
    words, start = [], 0
    for at, place in enumerate(places):
        if place in "ES":
            words.append(text[start:at + 1])
            start = at + 1
        elif place == "B":
            start = at
    if start < len(text):
        words.append(text[start:])
    return words


@lru_cache(maxsize=1)
def _sounds() -> tuple[str, tuple[frozenset[str], ...]]:
    """Per slot, the number of its set of readings (as ``chr``; 0: none known), and the
    sets: two objects, so the workers share their pages."""
    sets: list[frozenset[str]] = [frozenset()]
    table = array("H", [0]) * SLOTS
    for read, chars in _rows("han_sounds.txt", "\t"):
        sets.append(frozenset(read.split()))
        for char in chars:
            slot = _slot(char)
            if slot is not None:
                table[slot] = len(sets) - 1
    return (table.tobytes().decode("utf-16-le" if sys.byteorder == "little" else "utf-16-be"),
            tuple(sets))


def readings(char: str) -> frozenset[str]:
    """The ways ``char`` is read, tones aside (none for a character not in the table)."""
    slot = _slot(char)
    table, sets = _sounds()
    return sets[ord(table[slot])] if slot is not None else frozenset()


def sound_alike(word: str, other: str) -> bool:
    """Whether ``other`` may be said as ``word`` is: as long, and each character with a
    reading of the other's, tones aside."""
    if len(word) != len(other):
        return False
    return all(a == b or readings(a) & readings(b) for a, b in zip(word, other, strict=True))


class Words:
    """Cuts Mandarin into words: the common words, and ``keywords`` as common words."""

    def __init__(self, keywords: Iterable[str] = ()) -> None:
        _by_first()
        self.keywords = {k: KEYWORD for k in keywords if 1 < len(k) <= LONGEST
                         and (known(k) or UNKNOWN) > KEYWORD}
        _places(), _sounds()  # with the tree, before the workers fork: one copy for all

    def cost(self, word: str) -> int | None:
        return self.keywords.get(word) or known(word)

    def cut(self, text: str) -> list[str]:
        """``text`` (Chinese characters only) as words, as jieba cuts it: the cut of least
        cost (ties to the longer first word), then characters left alone in a row that are
        no word are cut by ``guess``."""
        best: list[tuple[int, int]] = [(0, 0)] * (len(text) + 1)  # (cost, end) from here
        for start in range(len(text) - 1, -1, -1):
            best[start] = min(
                (cost + best[end][0], -end) for end, cost in self._ends(text, start))
            best[start] = (best[start][0], -best[start][1])
        words: list[str] = []
        single = ""  # characters cut alone in a row: an unknown word, perhaps
        at = 0
        while at <= len(text):
            end = best[at][1] if at < len(text) else at + 1
            if end - at == 1 and at < len(text):
                single += text[at]
            else:
                if len(single) > 1 and not self.cost(single):
                    words += guess(single)
                else:
                    words += single
                single = ""
                if at < len(text):
                    words.append(text[at:end])
            at = end
        return words

    def _ends(self, text: str, start: int) -> Iterable[tuple[int, int]]:
        yield start + 1, self.cost(text[start]) or UNKNOWN
        for end in range(start + 2, min(len(text), start + LONGEST) + 1):
            cost = self.cost(text[start:end])
            if cost is not None:
                yield end, cost
