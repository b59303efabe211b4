"""Writes the tables ``ivr.flow.mandarin`` reads, from the packages that made them first:
``ivr/data/han_words.txt`` and ``han_places.txt`` from jieba's dictionary and its model of
unknown words (MIT), ``ivr/data/han_sounds.txt`` from pypinyin's dictionaries (MIT).
Neither package is loaded by the hotline: their dictionaries cost every server worker
122 MiB (issue 21), for what a caller's sentence needs of them: its words, and how each
character may be read.

Run it after upgrading either (``pip install jieba pypinyin``):
``python tools/make_mandarin_tables.py``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import jieba
from pypinyin import Style, pinyin
from pypinyin.phrases_dict import phrases_dict

DATA = Path(__file__).resolve().parent.parent / "ivr" / "data"
#: a word's cost is its -log(frequency share) times this, rounded: small whole numbers
SCALE = 100
#: the highest cost: a word seen once in jieba's corpus costs about 1,790
MOST = 2500
#: a cost is written as this character plus the cost: no character of a word
COST = 0xE000
#: the characters ``ivr.menu.phrases.HAN`` takes for Mandarin: CJK Extension A, the
#: Unified Ideographs and the compatibility ideographs
RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


def words() -> str:
    """One line per first character: the character, then each word that starts with it as
    the rest of the word and its cost (one character of Unicode's private use area,
    ``COST + cost``), after a ``|``: each line a string to search, 3 MiB in all."""
    rows = [line.split()[:2] for line in
            (Path(jieba.__file__).parent / "dict.txt").read_text(encoding="utf-8").splitlines()]
    total = sum(int(f) for _, f in rows)
    by_first: dict[str, dict[str, int]] = defaultdict(dict)
    for word, freq in rows:
        if int(freq) > 0 and all("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff"
                                 for c in word):
            cost = min(round(-math.log(int(freq) / total) * SCALE), MOST)
            by_first[word[0]][word[1:]] = cost
    return "\n".join(first + "".join(f"|{rest}{chr(COST + cost)}" for rest, cost in sorted(found.items()))
                     for first, found in sorted(by_first.items()))


def unknown_words() -> str:
    """jieba's guesser of words its dictionary lacks (a hidden Markov model over each
    character's place in a word: Begins, Middle, Ends, Single): per character, the cost of
    its being seen in each place, in that order (``-`` never)."""
    from jieba.finalseg.prob_emit import P as emit

    chars = sorted(set().union(*(set(v) for v in emit.values())))
    return "\n".join(char + " " + " ".join(
        str(round(-emit[place][char] * SCALE)) if char in emit[place] else "-"
        for place in "BMES") for char in chars)


def sounds() -> str:
    """Each character's commonest reading, and the readings the phrases give it (行 in
    银行 and in 行走): not the rare and archaic ones a character's full entry lists, which
    made 话 sound like 找."""
    readings: dict[str, dict[str, None]] = defaultdict(dict)
    for first, last in RANGES:
        for code in range(first, last + 1):
            (read,) = pinyin(chr(code), style=Style.NORMAL, errors=lambda _: [""])
            if read[0].isascii() and read[0].isalpha():
                readings[chr(code)][read[0]] = None
    for phrase in phrases_dict:
        for char, read in zip(phrase, pinyin(phrase, style=Style.NORMAL), strict=False):
            if char in readings and read[0].isascii() and read[0].isalpha():
                readings[char][read[0]] = None
    by_set: dict[str, list[str]] = defaultdict(list)
    for char, read in readings.items():
        by_set[" ".join(sorted(read))].append(char)
    return "\n".join(f"{read}\t{''.join(chars)}" for read, chars in sorted(by_set.items()))


def main(out: Path = DATA) -> None:
    header = "# made by tools/make_mandarin_tables.py from {} (MIT): {}\n"
    (out / "han_words.txt").write_text(
        header.format("jieba's dictionary", "its words of Chinese characters by their first, "
                      f"each with its cost, -log(frequency share) x {SCALE}, as a character")
        + words() + "\n",
        encoding="utf-8")
    (out / "han_places.txt").write_text(
        header.format("jieba's model of unknown words", "per character, the cost of its "
                      f"place in a word, -log(probability) x {SCALE}: begins, middle, ends, "
                      "alone") + unknown_words() + "\n", encoding="utf-8")
    (out / "han_sounds.txt").write_text(
        header.format("pypinyin's dictionaries", "each set of toneless readings, and the "
                      "characters read so") + sounds() + "\n", encoding="utf-8")
    for name in ("han_words.txt", "han_places.txt", "han_sounds.txt"):
        print(out / name, f"{(out / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
