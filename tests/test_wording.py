"""What the caller hears, read as a caller would: grammar, days and times said for the ear,
the menus' wording, and never a silent hold (issue 9, points 8, 9, 13 and 16)."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import Caller
from freezegun import freeze_time

from ivr import create_app
from ivr.flow import prompts, spoken
from ivr.flow.call import Utterance
from ivr.menu.loader import load as load_menu
from ivr.menu.model import spoken_pieces
from ivr.queue import traffic
from ivr.queue.advice import Centre, Window, describe_wait
from ivr.web import twiml

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAT = prompts.load()
VOICES = {"zh-CN": {"voice": "Polly.Zhiyu", "language": "cmn-CN"},
          "en-US": {"voice": "Polly.Joanna", "language": "en-US"}}
#: a day said in a list of windows: never a bare weekday (today's or next week's?)
EN_DAY = r"(today|tomorrow|(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]+)"


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


THURSDAY_1030 = shanghai(2026, 11, 26, 10, 30)


def call(moment: str, settings, lang: str, *keys: str) -> Caller:
    with freeze_time(moment):
        caller = Caller(create_app(settings).test_client())
        caller.start()
        caller.keys("1" if lang == "zh-CN" else "2", *keys)
    return caller


# -- 8: plurals and lists ------------------------------------------------------------------
@pytest.mark.parametrize(("wait_s", "en", "zh"), [
    (60, "about 1 minute", "约1分钟"),
    (120, "about 2 minutes", "约2分钟"),
    (20, "under a minute", "不到1分钟"),
])
def test_waits_agree_in_number(wait_s, en, zh):
    assert spoken.wait(CAT, "en-US", wait_s) == en
    assert spoken.wait(CAT, "zh-CN", wait_s) == zh


def test_the_advice_command_counts_minutes_after_hours_right():
    assert describe_wait(3600 + 60) == "about 1 hour 1 minute"
    assert describe_wait(2 * 3600 + 120) == "about 2 hours 2 minutes"


def test_one_caller_ahead_is_said_in_good_english(settings):
    with freeze_time("2026-11-25 01:30:00"):
        caller = Caller(create_app(settings).test_client())
        caller.start()
        caller.keys("2", "0")
        wait_url = caller.root.find("Enqueue").get("waitUrl")
        for position in ("2", "3"):
            caller.post(wait_url, QueuePosition=position, QueueTime="0")
    said = " ".join(caller.heard)
    assert "Callers ahead of you: 1." in said and "Callers ahead of you: 2." in said
    assert not re.search(r"\b1 callers\b|\bare 1\b|\b1 minutes\b", said)


def test_lists_keep_their_separator_and_spaces_in_each_language():
    week = Centre.load().opening_hours("general")
    en = spoken.opening_hours(CAT, "en-US", week.always_open, week.days)
    zh = spoken.opening_hours(CAT, "zh-CN", week.always_open, week.days)
    assert en.count("; ") == 2 and not re.search(r";\S", en)
    assert zh.count("；") == 2 and " " not in zh


def test_a_catalog_with_a_bare_separator_still_joins_lists():
    old = prompts.Catalog({"en-US": {**CAT.texts["en-US"], "fmt_list_sep": " / "}},
                          default_lang="en-US")
    assert spoken.join(old, "en-US", ["a", "b", "c"]) == "a / b / c"
    assert spoken.join(CAT, "en-US", ["a", "b", "c"]) == "a; b; c"
    assert spoken.join(CAT, "en-US", []) == ""


@pytest.mark.parametrize(("lang", "said"), [
    ("en-US", ["check its status", "file a complaint and check its status",
               "a, file a complaint and check its status"]),
    ("zh-CN", ["查询进度", "提交投诉和查询进度", "a、提交投诉和查询进度"]),
])
def test_a_list_of_things_to_do_ends_with_and(lang, said):
    """What self-service does while agents are away (``closed_self_service``): "a, b and
    c", with the list's own punctuation in each language (issue 22)."""
    items = {"en-US": ["a", "file a complaint", "check its status"],
             "zh-CN": ["a", "提交投诉", "查询进度"]}[lang]
    assert [spoken.listing(CAT, lang, items[-n:]) for n in (1, 2, 3)] == said


# -- 9: best times: today, tomorrow or a dated weekday, in time order --------------------
def test_a_window_next_week_on_todays_weekday_is_said_with_its_date():
    next_thursday = Window(shanghai(2026, 12, 3, 8), shanghai(2026, 12, 3, 10), 0)
    today = Window(shanghai(2026, 11, 26, 18), shanghai(2026, 11, 26, 20), 0)
    tomorrow = Window(shanghai(2026, 11, 27, 8), shanghai(2026, 11, 27, 10), 0)
    assert spoken.window(CAT, "en-US", next_thursday, THURSDAY_1030) == \
        "Thursday 3 December between 8 a.m. and 10 a.m."
    assert spoken.window(CAT, "zh-CN", next_thursday, THURSDAY_1030) == "12月3日周四上午8点到上午10点"
    assert spoken.windows(CAT, "en-US", [next_thursday, tomorrow, today], THURSDAY_1030) == \
        "today, 6 p.m. to 8 p.m.; tomorrow, 8 a.m. to 10 a.m.; Thursday 3 December, 8 a.m. to 10 a.m."
    assert spoken.windows(CAT, "zh-CN", [next_thursday, tomorrow, today], THURSDAY_1030) == \
        "今天下午6点到晚上8点；明天上午8点到上午10点；12月3日周四上午8点到上午10点"


def test_back_to_back_windows_are_said_as_one_and_each_day_once():
    day = [Window(shanghai(2026, 11, 30, h), shanghai(2026, 11, 30, h + 2), 0) for h in (18, 8, 10)]
    assert spoken.windows(CAT, "en-US", day, THURSDAY_1030) == \
        "Monday 30 November, 8 a.m. to noon and 6 p.m. to 8 p.m."
    late = Window(shanghai(2026, 11, 26, 22), shanghai(2026, 11, 27, 0), 0)
    assert spoken.windows(CAT, "en-US", [late], THURSDAY_1030) == "today, 10 p.m. to midnight"
    assert spoken.windows(CAT, "zh-CN", [late], THURSDAY_1030) == "今天晚上10点到晚上12点"


def _tuesday_is_quieter() -> Centre:
    tree = {
        "timezone": "Asia/Shanghai",
        "service_hours": {"weekdays": "08:00-12:00", "weekend": "closed"},
        "queues": {"general": {
            "aht_s": 300, "patience_s": 1800,
            "calls_per_hour": {"weekdays": {"08:00-12:00": 70}, "weekend": [0] * 24,
                               "tue": {"08:00-12:00": 2}},
            "agents": {"weekdays": {"08:00-12:00": 8}, "weekend": [0] * 24},
        }},
    }
    return Centre(traffic.parse(tree))


def test_advice_lists_its_best_windows_in_time_order():
    advice = _tuesday_is_quieter().advise("general", shanghai(2026, 11, 22, 12), redirect_calls=0)
    starts = [w.start for w in advice.windows]
    assert starts == sorted(starts) and len(starts) == 3
    assert shanghai(2026, 11, 24, 8) in starts  # the quiet Tuesday is still chosen
    assert [w.describe() for w in advice.windows][0].startswith("Monday 23 November 08:00–10:00")


def test_the_caller_hears_dated_days_in_order(settings):
    for moment in ("2026-11-25 04:30:00", "2026-11-28 02:00:00"):  # Wednesday lunch, Saturday
        caller = call(moment, settings, "en-US", "0", "2")
        best = next(t for t in caller.heard if t.startswith("The best times to call are"))
        days = re.findall(rf"(?:: |; ){EN_DAY}, ", best)
        assert days, best
        assert not re.search(r"\d\d:\d\d", best)
        assert re.search(r"[a-z]\.$", best) and not best.endswith(".."), best  # one full stop


# -- 13: wording -------------------------------------------------------------------------
def spoken_menu(lang: str, node_id: str) -> str:
    """A menu of the shipped tree as heard: its pieces' texts in the order spoken."""
    node = load_menu()[0][node_id]
    return "".join(CAT.text(lang, key) for _, key in spoken_pieces(node))


def test_chinese_menus_say_please_press_and_how_to_repeat():
    main, account = spoken_menu("zh-CN", "main"), spoken_menu("zh-CN", "account_menu")
    assert main.startswith("充值、支付、提现、退款，请按1；账户安全，请按2；")
    assert main.endswith("人工服务，请按0；重听请按星号键。")
    assert "，按" not in account and "返回按9" not in account
    assert account.count("请按") == 8 and account.endswith("请按6；重听请按星号键。返回主菜单请按9。")
    assert "；；" not in account + main and "，，" not in account + main
    assert "了解建议来电时段" in CAT.text("zh-CN", "wait_offer")


def test_closed_line_says_its_hours_for_the_ear_in_both_languages(settings):
    night = "2026-11-25 16:00:00"  # Thursday 00:00 in Shanghai
    zh = call(night, settings, "zh-CN", "0")
    assert zh.said("现在是非服务时间，我们将于今天上午8点恢复服务。")
    assert zh.said("服务时间为周一至周五上午8点到晚上10点；周六和周日上午9点到晚上9点；"
                   "法定节假日上午9点到下午6点。")
    assert not zh.said("休息") and not zh.said("星期")
    en = call(night, settings, "en-US", "0")
    assert en.said("This line is closed now. It opens again today at 8 a.m., and its hours are "
                   "Monday to Friday, 8 a.m. to 10 p.m.; Saturday and Sunday, 9 a.m. to 9 p.m.; "
                   "public holidays, 9 a.m. to 6 p.m.")
    assert not re.search(r"\d\d:\d\d|–|\.\.", " ".join(en.heard + zh.heard))


# -- 16: never a silent hold -------------------------------------------------------------
def _gather_children(document: str) -> list[ET.Element]:
    gather = ET.fromstring(document).find("Gather")
    assert gather is not None
    return list(gather)


def _longest_quiet_s(children: list[ET.Element]) -> int:
    return max(int(e.get("length", "1")) for e in children if e.tag == "Pause")


def test_hold_without_audio_repeats_the_words_between_short_pauses():
    words = [Utterance("hold_message", CAT.text("en-US", "hold_message"), "en-US")]
    children = _gather_children(twiml.hold(words, key_url="/k", voices=VOICES))
    assert _longest_quiet_s(children) <= 5
    assert [e.tag for e in children] == ["Say", "Pause"] * 4  # about a minute, like the music
    with_music = _gather_children(twiml.hold(words, key_url="/k", voices=VOICES,
                                             music_url="https://ivr.example.com/audio/hold.wav"))
    assert [e.tag for e in with_music] == ["Say", "Play"]


def test_a_caller_on_hold_with_no_audio_built_is_never_left_in_silence(settings):
    with freeze_time("2026-11-25 01:30:00"):
        caller = Caller(create_app(settings).test_client())
        caller.start()
        caller.keys("2", "0")
        caller.post(caller.root.find("Enqueue").get("waitUrl"), QueuePosition="4")
    children = _gather_children(ET.tostring(caller.root, encoding="unicode"))
    assert _longest_quiet_s(children) <= 5
    assert sum(e.tag == "Say" for e in children) >= 3
    assert all(a.tag != "Pause" or b.tag != "Pause" for a, b in itertools.pairwise(children))


def test_prompt_values_cover_every_new_format():
    from ivr.flow.prompt_values import given

    for lang in CAT.languages:
        for key, text in CAT.texts[lang].items():
            assert prompts.placeholders(text) <= given(key), (lang, key)
    assert len(spoken._names(CAT, "en-US", "fmt_clock")) == 25
    assert len(spoken._names(CAT, "zh-CN", "fmt_clock")) == 25
    assert spoken.clock(CAT, "en-US", 12) == "noon" and spoken.clock(CAT, "zh-CN", 12) == "中午12点"
    assert spoken.clock(CAT, "en-US", 8, 30) == "08:30"
