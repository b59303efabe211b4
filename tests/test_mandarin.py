"""Mandarin as the speech matching reads it (ivr.flow.mandarin): cut as jieba cuts it and
read by sound as pypinyin reads it, from small tables made from their dictionaries, so
that no server worker holds the 122 MiB of the dictionaries themselves (issue 21)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from ivr.flow import mandarin

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def sentences() -> list[str]:
    """Every run of Chinese characters callers say in the three utterance sets."""
    found = []
    for name in ("speech_utterances.yaml", "speech_heldout.yaml", "speech_blind.yaml"):
        for item in yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["zh-CN"]:
            found += HAN_RUN.findall(item["say"])
    return found


def test_sentences_are_cut_as_jieba_cuts_them():
    import jieba

    words = mandarin.Words()
    said = sentences()
    differ = [(s, words.cut(s), jieba.lcut(s)) for s in said if words.cut(s) != jieba.lcut(s)]
    # the costs are kept to 1/100 of a nat: a near tie may fall the other way
    assert len(differ) <= len(said) // 100, differ
    assert len(said) > 300


def test_the_trees_keywords_are_words():
    assert mandarin.Words().cut("我充值的钱还没到账") == ["我", "充值", "的", "钱", "还", "没到", "账"]
    assert mandarin.Words(["没到账"]).cut("我充值的钱还没到账") == ["我", "充值", "的", "钱", "还",
                                                                   "没到账"]


def test_characters_no_word_covers_are_guessed_as_words():
    assert mandarin.Words().cut("顺便想换个绑定的手机号") == ["顺便", "想换个", "绑定", "的", "手机号"]


@pytest.mark.parametrize(("word", "other", "alike"), [
    ("充值", "冲值", True), ("提现", "体现", True),
    ("银行卡", "银航卡", True),  # 行 reads hang in 银行, xing in 行走
    ("充值", "重置", True),  # chong zhi, tones aside: told apart by ivr.flow.speech
    ("限制", "显示", False), ("找", "话", False),  # not by readings rare or archaic
    ("充值", "充值卡", False),  # not as long
])
def test_words_sound_alike_when_each_character_may_be_read_alike(word, other, alike):
    assert mandarin.sound_alike(word, other) is alike


def test_the_tables_are_what_the_tool_makes_of_the_installed_dictionaries(tmp_path):
    spec = importlib.util.spec_from_file_location("make_tables",
                                                  ROOT / "tools" / "make_mandarin_tables.py")
    assert spec and spec.loader
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main(tmp_path)
    for name in ("han_words.txt", "han_places.txt", "han_sounds.txt"):
        assert (tmp_path / name).read_bytes() == (mandarin.DATA / name).read_bytes(), name
