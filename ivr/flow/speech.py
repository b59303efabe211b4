"""What a caller said at a speech menu, matched to a node of the tree: the only importer
of rapidfuzz.

Twilio sends the recogniser's text (``SpeechResult``) and its ``Confidence``. Each target
of the menu (``speech_targets``) lists phrases per language; a phrase is one or more
keywords separated by spaces, all of which should be heard, in any order ("充值 没到账",
"top up"). The caller's words are split into tokens, Mandarin as jieba cuts it with the
tree's keywords added to its dictionary (``ivr.flow.mandarin``, which reads small tables
made from jieba's and pypinyin's dictionaries, 122 MiB in every server worker when they
were loaded), and English by words, lightly stemmed. A keyword is compared with every
token and with runs of adjacent tokens (a cut may split "没到账" as "没到" + "账", a
recogniser may hear "re fund"), by rapidfuzz's ratio and, for Mandarin, by sound:
recognisers' errors in Mandarin are mostly homophones (冲值 for 充值, 体现 for 提现), and
two words sound alike when each character of one may be read as the other's is (银航卡
and 银行卡: 行 reads hang in 银行). A word that is itself a keyword of the tree was heard as
that keyword, not misheard (重置 is no 充值).

A phrase scores the share of its keywords heard, weighted by their length; a target its
best phrase, and it *explains* the caller's words its well-heard phrases rest on. Targets
rank by being well heard (``CLEAR``), then by how much they explain. The best is routed
to when it is well heard, no rival (a target neither above nor below it, resting on other
words) explains nearly as much (``TIE``), and the recogniser was at least
``LOW_CONFIDENCE`` sure. A weaker or tied best is confirmed with one question, answered
by a key or a spoken yes or no (``agrees``); below ``WEAK`` nothing was understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ivr.flow import mandarin
from ivr.flow.gather import MAX_HINT_CHARS
from ivr.menu.model import Kind, Menu, Node, speech_targets, takes_speech
from ivr.menu.phrases import HAN, STOP, WORD, family, keywords, normal, stem

#: a target at least this sure, with no rival near, is routed to without asking
CLEAR = 0.8
#: a rival explaining this share of what the best explains makes a tie: confirmed, not
#: guessed
TIE = 0.5
#: below this nothing was understood
WEAK = 0.5
#: a keyword heard less alike than this is not heard at all: in English one letter in six
#: is another word ("change", "charge"); a Mandarin word a character longer may be it
HEARD = {"zh": 0.8, "en": 0.85}
#: a recogniser less sure than this of its words gets a confirmation, however clear
LOW_CONFIDENCE = 0.4
#: the hints sent at most (Twilio takes 500, each cut to its 100 characters): the
#: phrases of the first targets, in tree order
MAX_HINTS = 100

@dataclass(frozen=True, slots=True)
class Understood:
    """What the caller's words meant at a speech menu: ``decision`` is ``route`` (go to
    ``target``), ``confirm`` (ask whether ``target`` is meant) or ``none``."""

    decision: str
    target: str | None = None
    score: float = 0.0
    #: the best rival's score (0 when none): how near the match came to a tie
    rival: float = 0.0


class _Words:
    """Splits text into tokens the way keywords are compared; one per tree and language."""

    def __init__(self, lang_family: str, keywords: set[str]) -> None:
        self.family = lang_family
        self.mandarin = mandarin.Words(k for k in keywords if HAN.search(k)) \
            if lang_family == "zh" else None

    def tokens(self, text: str) -> list[tuple[str, bool]]:
        """The words of ``text`` (stemmed), each with whether it says something (not a
        stop word): those are matched alone, and all of them in runs ("with drawl")."""
        text = normal(text)
        stop = STOP[self.family]
        if self.mandarin is None:
            return [(stem(w), w not in stop) for w in WORD.findall(text)]
        found = []
        for part in _PARTS.findall(text):
            for token in self.mandarin.cut(part) if HAN.match(part) else [stem(part)]:
                found.append((token, token not in stop))
        return found


#: a run of Chinese characters, or a word written in letters or digits
_PARTS = re.compile(rf"{HAN.pattern}+|{WORD.pattern}")


def _alike(keyword: str, heard: str, zh: bool, homophone: bool = True) -> float:
    """How alike a keyword and some heard words are, 0 to 1: by their letters, and for
    Mandarin by their sound (read alike, tones aside, is 0.95) unless ``homophone`` is
    False: words that are another keyword of the tree were heard as that keyword (重置 is
    no misheard 充值)."""
    from rapidfuzz.fuzz import ratio

    if keyword == heard:
        return 1.0
    # in Mandarin a word heard with a character more (没到账, 没有到账) may be it, one
    # with a character less (付不了, 不了) is another word
    score = ratio(keyword, heard) / 100 if not zh or len(heard) >= len(keyword) else 0.0
    if homophone and zh and len(keyword) > 1 and HAN.search(keyword) \
            and mandarin.sound_alike(keyword, heard):
        score = max(score, 0.95)  # a homophone: likelier misheard than a different word
    if (zh or len(keyword) >= 2) and keyword in heard and len(heard) <= len(keyword) + 1:
        # 充值 in 充值卡, 充 in 充了
        score = max(score, 0.9 if len(keyword) >= 2 else 0.85)
    return score


def _runs(tokens: list[tuple[str, bool]]) -> list[tuple[str, frozenset[int]]]:
    """Every word that says something, and every run of two or three adjacent words with
    one that does, joined, with the positions of the words each covers."""
    runs = [(t, frozenset({i})) for i, (t, says) in enumerate(tokens) if says]
    for width in (2, 3):
        runs += [("".join(t for t, _ in tokens[i:i + width]), frozenset(range(i, i + width)))
                 for i in range(len(tokens) - width + 1)
                 if any(says for _, says in tokens[i:i + width])]
    # a run said again matches as it did the first time, where the first is kept: "啊" five
    # thousand times is one run to compare, not fifteen thousand
    first: dict[str, frozenset[int]] = {}
    for text, at in runs:
        first.setdefault(text, at)
    return list(first.items())


@dataclass(frozen=True, slots=True)
class _Match:
    target: str
    score: float  # the share of its best phrase heard, 0 to 1
    heard: frozenset[int]  # the caller's tokens its well-heard phrases rest on
    evidence: float  # its keywords heard, each by how well: how much it explains
    depth: int  # how deep in the tree
    order: int  # the target's place in the tree


class Listener:
    """The speech menus of one tree, ready to match what callers say at them."""

    def __init__(self, menu: Menu) -> None:
        self.menu = menu
        #: menu id -> its targets, in tree order
        self.targets = {n.id: speech_targets(menu, n) for n in menu.nodes.values()
                        if takes_speech(menu, n)}
        langs = {lang for node in menu.nodes.values() for lang in node.phrases}
        self.words: dict[str, _Words] = {}
        #: (lang, target) -> its phrases, each as keywords
        self.phrases: dict[tuple[str, str], list[list[str]]] = {}
        self.vocabulary: dict[str, frozenset[str]] = {}
        english = sorted(lang for lang in langs if family(lang) == "en")
        for lang in sorted(langs):
            written = [(n.id, p, lang) for n in menu.nodes.values()
                       for p in n.phrases.get(lang, ())]
            self.words[lang] = _Words(family(lang), {
                k for _, p, _ in written for k in normal(p).split()})
            if family(lang) == "zh":  # "我的 refund 还没到": English words in Mandarin
                written += [(n.id, p, en) for en in english for n in menu.nodes.values()
                            for p in n.phrases.get(en, ())]
            for node_id, phrase, written_in in written:
                said = keywords(phrase, written_in)
                if said:
                    self.phrases.setdefault((lang, node_id), []).append(said)
            #: every keyword heard in ``lang``
            self.vocabulary[lang] = frozenset(k for (heard_in, _), phrases in self.phrases.items()
                                              if heard_in == lang for p in phrases for k in p)
        above: dict[str, set[str]] = {}  # node id -> the menus whose options lead to it
        for node in menu.nodes.values():
            if node.kind is Kind.MENU:
                for option in node.options:
                    above.setdefault(option.goto, set()).add(node.id)
        #: node id -> every menu above it: read per target on each spoken answer
        self.above: dict[str, frozenset[str]] = {n: _above(n, above) for n in menu.nodes}
        #: (menu id, lang) -> Twilio's hints, sent on every webhook of a speech menu
        self._hints = {(n, lang): self._hints_of(n, lang)
                       for n in self.targets for lang in langs}

    def ancestors(self, node_id: str) -> frozenset[str]:
        return self.above.get(node_id, frozenset())

    def matches(self, node: Node, lang: str, text: str) -> list[_Match]:
        """Every target that heard something in ``text``, best first: a well-heard one
        (``CLEAR``) before the rest, then by how much of the sentence it explains, then by
        score, the deeper node, and tree order."""
        words = self.words.get(lang)
        if words is None:
            return []
        zh, least = words.family == "zh", HEARD[words.family]
        vocabulary = self.vocabulary[lang]
        tokens = words.tokens(text)
        runs = _runs(tokens)
        if not runs:
            return []
        found = []
        best: dict[str, tuple[float, frozenset[int]]] = {}  # a keyword's best run, once
        for order, target in enumerate(self.targets.get(node.id, ())):
            # per phrase: the share heard, and each keyword heard with how well and where
            phrases = []
            for said in self.phrases.get((lang, target), ()):
                heard = {}
                for keyword in said:
                    if keyword not in best:
                        best[keyword] = max(
                            ((_alike(keyword, run, zh, run not in vocabulary), at)
                             for run, at in runs), key=lambda found: found[0])
                    alike, at = best[keyword]
                    if alike >= least:  # how well: 1 exact, 0.5 barely
                        quality = 0.5 + 0.5 * (alike - least) / (1 - least)
                        heard[keyword] = (len(keyword) * alike, quality, at)
                total = sum(len(k) for k in said)
                phrases.append((sum(w for w, _, _ in heard.values()) / total, heard))
            score = max((share for share, _ in phrases), default=0.0)
            if score <= 0:
                continue
            kept = [h for share, h in phrases if share >= CLEAR] or \
                [max(phrases, key=lambda p: p[0])[1]]
            # what it explains: a keyword heard is worth its quality, shared among the
            # words it rests on, and each word counts once, at its best
            explains: dict[int, float] = {}
            for h in kept:
                for _, quality, at in h.values():
                    for i in at:
                        explains[i] = max(quality / len(at), explains.get(i, 0.0))
            found.append(_Match(target, score, frozenset(explains), sum(explains.values()),
                                len(self.ancestors(target)), order))
        # well heard: the deeper node first (more specific); else the shallower (a weak
        # guess is better confirmed as the broader topic)
        return sorted(found, key=lambda m: (m.score < CLEAR, -round(m.evidence, 2),
                                            -round(m.score, 2),
                                            m.depth if m.score < CLEAR else -m.depth, m.order))

    def understand(self, node: Node, lang: str, text: str,
                   confidence: float | None = None) -> Understood:
        """What ``text`` said at the speech menu ``node``, in ``lang``.

        The best match gives way to a well-heard node below it that heard more, or the same
        words better (the more specific topic: "locked" beats "account"). A rival is a
        well-heard target neither above nor below the best, resting on words the best did
        not hear, that explains nearly as much
        (``TIE``): "payment" inside "raise my payment limit" is no rival to the limit, but
        "冻结" beside "被盗" is.
        """
        ranked = self.matches(node, lang, text)
        if not ranked or ranked[0].score < WEAK:
            return Understood("none", score=round(ranked[0].score, 3) if ranked else 0.0)
        best = ranked[0]
        while True:
            deeper = next((m for m in ranked if m.score >= CLEAR
                           and best.target in self.ancestors(m.target)), None)
            if deeper is None or (deeper.heard <= best.heard and deeper.score <= best.score):
                break
            best = deeper
        related = self.ancestors(best.target) | {best.target}
        rival = next((m for m in ranked if m.score >= CLEAR and m.target not in related
                      and best.target not in self.ancestors(m.target)
                      and not m.heard <= best.heard), None)
        tied = rival is not None and rival.evidence >= TIE * best.evidence
        sure = confidence is None or confidence >= LOW_CONFIDENCE
        clear = best.score >= CLEAR and not tied and sure
        return Understood("route" if clear else "confirm", best.target, round(best.score, 3),
                          round(rival.score, 3) if rival else 0.0)

    def hints(self, node: Node, lang: str) -> tuple[str, ...]:
        """Twilio's ``hints`` for the menu: its targets' phrases as callers say them."""
        return self._hints.get((node.id, lang), ())

    def _hints_of(self, node_id: str, lang: str) -> tuple[str, ...]:
        zh = family(lang) == "zh"
        found: dict[str, None] = {}
        for target in self.targets.get(node_id, ()):
            for phrase in self.menu.nodes[target].phrases.get(lang, ()):
                hint = phrase.replace(" ", "") if zh else phrase
                found[hint[:MAX_HINT_CHARS]] = None
        return tuple(found)[:MAX_HINTS]


def _above(node_id: str, parents: dict[str, set[str]]) -> frozenset[str]:
    seen: set[str] = set()
    todo = [node_id]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return frozenset(seen)


_LISTENERS: dict[int, tuple[Menu, Listener]] = {}


def listener(menu: Menu) -> Listener:
    """The tree's ``Listener``, made once per tree."""
    kept = _LISTENERS.get(id(menu))
    if kept is None or kept[0] is not menu:
        kept = _LISTENERS[id(menu)] = (menu, Listener(menu))
    return kept[1]


def split(text: str, lang: str) -> list[str]:
    """``text`` as the words a caller says, in order and as written (Mandarin cut as jieba
    cuts it, ``ivr.flow.mandarin``): what the simulator drops or swaps to imitate a
    recogniser's errors. Joined again with ``joiner(lang)``."""
    if family(lang) == "en":
        return text.split()
    words = _common_words()
    return [word for part in _WRITTEN.findall(text)
            for word in (words.cut(part) if HAN.match(part) else [part])]


#: Chinese characters, a number or word in letters, or any other mark, as jieba splits text
_WRITTEN = re.compile(rf"{HAN.pattern}+|[a-zA-Z0-9]+(?:\.\d+)?%?|\S")


@lru_cache(maxsize=1)
def _common_words() -> mandarin.Words:
    return mandarin.Words()


def joiner(lang: str) -> str:
    """What separates words as written: nothing in Mandarin, a space in English."""
    return "" if family(lang) == "zh" else " "


# -- a spoken yes or no --------------------------------------------------------------------

#: what callers say to "…对吗？" / "…, is that right?", by what it means. The answer comes
#: first ("对，我充值没到账", "不是，我要退款"), so the earliest word decides, and at one place
#: the longer: "不是" holds "是" a character later, "不错" ("not bad") and "没错" ("no
#: mistake") are yeses that start as noes. "嗯" is left out: it is as often a hesitation as
#: an mm-hm, and a wrong yes sends the caller on to the wrong team.
_ANSWERS: dict[str, dict[bool, tuple[str, ...]]] = {
    "zh": {True: ("是", "对", "好", "可以", "正确", "确认", "行", "没错", "没问题", "不错"),
           False: ("不", "不是", "不对", "不要", "不用", "不行", "错了", "否", "没有", "别")},
    "en": {True: tuple("yes yeah yep yup yea right correct sure ok okay exactly absolutely "
                       "definitely".split()) + ("no problem",),
           False: tuple("no nope nah not wrong incorrect isn't isnt don't dont".split())},
}
#: the hints for a yes-or-no question, per language family
YES_NO_HINTS = {"zh": ("是", "不是", "对", "不对"), "en": ("yes", "no")}
#: each answer's pattern, its length and meaning: English by whole words ("know" holds no
#: "no"), Mandarin anywhere (it has no spaces)
_ANSWER_PATTERNS = {
    fam: [(re.compile(re.escape(word) if fam == "zh" else
                      rf"(?<![a-z']){re.escape(word)}(?![a-z'])"), len(word), meaning)
          for meaning, words in answers.items() for word in words]
    for fam, answers in _ANSWERS.items()
}


def agrees(text: str, lang: str, confidence: float | None = None) -> bool | None:
    """Whether the caller's words say yes (True) or no (False) to a confirmation; None
    when they say neither, or the recogniser was less than ``LOW_CONFIDENCE`` sure."""
    if confidence is not None and confidence < LOW_CONFIDENCE:
        return None
    said = normal(text)
    found = [(m.start(), -length, meaning)  # the earliest, and there the longest
             for pattern, length, meaning in _ANSWER_PATTERNS[family(lang)]
             for m in pattern.finditer(said)]
    return min(found)[2] if found else None
