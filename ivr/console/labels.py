"""The names a console page shows for the tree's and the calendar's things, in the
console's language: queues (from the prompt catalog's topics, the words callers hear for
a need), weekdays, the day's holiday, a closed queue's opening time, and what a call's
caller heard and pressed (the catalog's own texts, as ``ivr.flow.prompts`` fills them).

No wording lives here: it comes from the prompt catalog and ``ivr.console.text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ivr.console.site import bp, hotline, lang, t
from ivr.flow.prompts import fill_safely
from ivr.menu.model import topic_of
from ivr.queue.calendar import WEEKDAYS, holiday_name

#: the console's languages as the prompt catalog and the ``holidays`` package name them
CATALOG_LANG = {"en": "en-US", "zh": "zh-CN"}
HOLIDAY_LANG = {"en": "en_US", "zh": "zh_CN"}
#: what a topic says around the need, left out of a label ("a complaint." -> "Complaint")
_TOPIC_AFFIXES = {"zh": ("", ("方面的问题", "的问题")), "en": (("a ", "an "), ())}


def catalog_lang() -> str:
    return CATALOG_LANG.get(lang(), "en-US")


def _topic_key(queue: str) -> str | None:
    """The topic naming ``queue``: ``topic_<queue>``, ``topic_<its first word>``
    (account-security: ``topic_account``), or for the tree's catch-all queue (its
    ``fallback``) the topic of the node that goes on to it (every other question)."""
    h = hotline()
    menu = h.tree.menu
    fallback = menu.nodes.get(menu.fallback)
    candidates = [f"topic_{queue}", f"topic_{queue.split('-')[0]}"]
    if fallback is not None and fallback.queue == queue:
        candidates += [n.topic for n in menu.nodes.values() if n.next == fallback.id and n.topic]
    return next((k for k in candidates if h.catalog.has(catalog_lang(), k)), None)


def _topic_words(key: str) -> str:
    """A topic's words as a label: "a complaint." -> "Complaint", "投诉方面的问题" -> "投诉"."""
    words = fill_safely(hotline().catalog.raw(catalog_lang(), key), {}).rstrip("。.!！ ")
    prefixes, suffixes = _TOPIC_AFFIXES.get(lang(), ((), ()))
    for prefix in prefixes:
        words = words.removeprefix(prefix)
    for suffix in suffixes:
        if words.endswith(suffix) and len(words) > len(suffix):
            words = words.removesuffix(suffix)
            break
    return words[:1].upper() + words[1:]


def queue_name(queue: str | None) -> str:
    """A queue as the page names it: its topic in the console's language, else its id."""
    if not queue:
        return "-"
    key = _topic_key(queue)
    return (_topic_words(key) or queue) if key else queue


def issue_name(issue: str | None) -> str:
    """A caller's need as the page names it: the topic the tree names it to callers with
    (``topic_of``), else its id."""
    if not issue:
        return "-"
    node = topic_of(hotline().tree.menu, issue)
    if node is None or not node.topic or not hotline().catalog.has(catalog_lang(), node.topic):
        return issue
    return _topic_words(node.topic) or issue


def weekday(index: int) -> str:
    """Monday (0) to Sunday (6), as the page says it."""
    return t(f"day_{WEEKDAYS[index]}")


def weekdays() -> list[str]:
    return [weekday(i) for i in range(7)]


def holiday(on: date, fallback: str) -> str:
    """The day's holiday in the console's language where the calendar package has it."""
    calendar = hotline().centre.traffic.calendar
    return holiday_name(calendar, on, HOLIDAY_LANG.get(lang(), "en_US")) or fallback


def opens(at: datetime, now: datetime) -> str:
    """When a closed queue opens: "08:00" today, else its weekday (and date after a week)."""
    clock = at.strftime("%H:%M")
    if at.date() == now.date():
        return clock
    if (at.date() - now.date()).days < 7:
        return f"{weekday(at.weekday())} {clock}"
    return f"{at.date().isoformat()} {clock}"


def heard(said: str | None) -> list[str]:
    """What the caller heard at a step, from its prompt keys, in the console's language;
    the values a prompt was filled with (amounts, dates) are not kept, so left out."""
    catalog, language = hotline().catalog, catalog_lang()
    return [fill_safely(catalog.raw(language, key), {}) for key in (said or "").split()
            if catalog.has(language, key) or catalog.has(catalog.default_lang, key)]


def pressed(event: Mapping[str, Any]) -> str:
    """The option a caller's keys chose at a menu, in words, when it has its own phrase."""
    node = hotline().tree.menu.nodes.get(str(event.get("node") or ""))
    choice = str(event.get("choice") or "")
    option = node.option(choice) if node is not None else None
    if option is None or not option.say:
        return ""
    catalog = hotline().catalog
    return fill_safely(catalog.raw(catalog_lang(), option.say), {}).rstrip("，,。. ")


def scope_name(scope: Any) -> str:
    """A notice's scope (``ivr.flow.notices.Scope``, or as written) as the page names it:
    the whole line, a queue by its name, a node by its id."""
    kind, _, name = str(scope).partition(":")
    if kind == "line":
        return t("whole_line")
    if kind == "queue":
        return f"{t('queue')}: {queue_name(name)}"
    return str(scope)


@bp.context_processor
def named() -> dict[str, Any]:
    """Every page may name a queue, a need and a notice's scope in its language."""
    return {"queue_name": queue_name, "issue_name": issue_name, "scope_name": scope_name}
