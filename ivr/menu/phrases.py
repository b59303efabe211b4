"""How a phrase of the tree is heard: the words it is compared by.

A phrase is keywords separated by spaces (Mandarin) or words (English, lightly
stemmed), without the words that say nothing about why someone calls. The tree's lint
compares phrases by these (two phrases that are heard alike may not name two targets),
and the speech matching of ``ivr.flow.speech`` splits what a caller said the same way.
Plain text rules: no tokenizer is loaded here.
"""

from __future__ import annotations

import re
import unicodedata

#: words that say nothing about why someone calls
STOP = {
    "zh": set("我 你 您 的 了 吗 呢 啊 吧 嗯 呀 哦 喂 是 有 在 就 都 也 还 和 跟 这 那 个 一 下 把 给 让 "
              "那个 这个 就是 然后 一下 你好 您好 请问 麻烦 想 要 我想 帮 帮我 怎么 怎么办 什么 为什么 "
              "一直 已经 现在 今天 昨天 刚才 刚刚 一个 有点 好像 可以 能 能不能 不能 我的 你们".split()),
    "en": set("i i'm im me my mine you your we our us a an the to of for and or but is are was were "
              "be been it it's its this that there here hi hello hey yeah yes um uh er oh so just "
              "can could would will please like want wanna need with on in at about get got "
              "have has had do does did some any".split()),
}
WORD = re.compile(r"[a-z0-9']+")
#: a Chinese character: Mandarin written, as a recogniser of Mandarin writes it
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def family(lang: str) -> str:
    """``zh`` for Mandarin catalogs (zh-CN), else ``en``: how words are split."""
    return "zh" if lang.lower().startswith("zh") else "en"


def normal(text: str) -> str:
    """Text as it is compared: NFKC, lower case, ``-_/`` as spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[-_/]", " ", text)


def stem(word: str) -> str:
    """A light English stem, so "refunds", "refunded" and "refund" are one word."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def keywords(phrase: str, lang: str) -> list[str]:
    """A phrase's keywords, as they are compared: its space-separated parts (Mandarin) or
    its words (English, stemmed), without the words that say nothing ("我要", "my"). Lint
    compares phrases by these, so "我要 投诉" and "投诉" are one phrase."""
    lang_family = family(lang)
    stop = STOP[lang_family]
    parts = normal(phrase).split() if lang_family == "zh" else WORD.findall(normal(phrase))
    return [stem(p) if WORD.fullmatch(p) else p for p in parts if p not in stop]
