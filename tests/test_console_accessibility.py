"""Every console page, in English and in Mandarin, as an ops lead and as an agent, checked
by axe-core (vendored in ``tests/vendor/axe-core``) in a real headless Chromium: no serious
or critical accessibility violation (labelled controls, table headers, the page's
language, landmarks, contrast). Each page is kept as
``build/screenshots/a11y-<page>-<lang>.png`` (``a11y-agent-...`` for the agent's).

The console, its calls and users are those of ``test_console_browser.py`` (its ``site``
fixture, imported). A Mandarin page is also checked for weekdays and queues named in
English. The check itself is shown to catch a planted violation, and the keyboard's way
in (the skip link, the page marked in the menu) is walked.
"""

from __future__ import annotations

import re

import pytest
from browser import Browser, require_chromium
from test_console_browser import AGENT, AGENT_PASSWORD, ENGLISH_DAYS, OPS, OPS_PASSWORD, QUEUES, Known, log_in
from test_console_browser import _site as _site  # noqa: F401  the fixture ``site``

require_chromium()  # else the module is skipped, saying what to install

#: what an ops lead opens: (name, path); every page of the console's menu, a search and a
#: call's timeline, and the refusal page (a form sent without its CSRF token is tried in
#: test_console_browser.py; here a page that does not exist for the console)
OPS_PAGES = (("now", "/ops/"), ("tree", "/ops/tree"), ("report", "/ops/report"),
             ("week", "/ops/week"), ("plan", "/ops/plan"), ("callbacks", "/ops/callbacks"),
             ("tickets", "/ops/tickets"), ("notices", "/ops/notices"),
             ("calls", "/ops/calls"), ("audit", "/ops/audit"))
#: an agent's pages, and a page for ops only (refused, in the console's frame)
AGENT_PAGES = (("now", "/ops/"), ("callbacks", "/ops/callbacks"), ("tickets", "/ops/tickets"),
               ("error", "/ops/report"))
LANGS = {"en": "en", "zh": "zh-CN"}  # the console's language: <html lang>


def choose(browser: Browser, lang: str, ready: str) -> None:
    """Switch the console to ``lang`` on the page now shown (``ready`` on it)."""
    if browser.find("html").get_attribute("lang") != LANGS[lang]:
        browser.submit(browser.find("#lang-switch"), ready=ready)
    assert browser.find("html").get_attribute("lang") == LANGS[lang]


def enter(browser: Browser, name: str, password: str, lang: str) -> None:
    """Log in afresh (the log-in empties the session) and choose ``lang``."""
    log_in(browser, name, password)
    choose(browser, lang, ready="main h1")


def look(browser: Browser, name: str, refused: bool = False) -> list[str]:
    """The problems of the page now shown, axe-core's included, under its screenshot's
    name; with ``refused``, the refusal asked for (an error page) is not one of them."""
    shot = browser.screenshot(browser.shots / f"{name}.png")
    if refused:
        browser.take()  # the 403 asked for, and the browser's message about it
        found = browser.inaccessible()
    else:
        found = browser.problems() + browser.inaccessible()
    return [f"{name} ({browser.driver.current_url}, {shot.name}):", *found] if found else []


def walk(browser: Browser, pages: tuple[tuple[str, str], ...], prefix: str,
         lang: str) -> list[str]:
    problems: list[str] = []
    for name, path in pages:
        browser.open(path, ready="main h1")
        assert browser.find("html").get_attribute("lang") == LANGS[lang], (name, lang)
        problems += look(browser, f"{prefix}{name}-{lang}", refused=name == "error")
        if lang == "zh":
            problems += [f"{prefix}{name}-zh: {found}" for found in english_labels(browser)]
    return problems


def english_labels(browser: Browser) -> list[str]:
    """The weekdays and queues a Mandarin page names in English (its visible text)."""
    words = browser.text("main")
    found = [f"an English weekday: {m.group(0)!r}" for m in ENGLISH_DAYS.finditer(words)]
    return found + [f"a queue named in English: {queue!r}" for queue in QUEUES
                    if re.search(rf"(?<![\w-]){re.escape(queue)}(?![\w-])", words)]


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_for_ops_is_accessible(site: tuple[Browser, Known], lang: str) -> None:
    browser, known = site
    browser.forget()
    browser.open("/ops/login", ready="#login-form")
    choose(browser, lang, ready="#login-form")
    problems = look(browser, f"a11y-login-{lang}")
    enter(browser, OPS, OPS_PASSWORD, lang)
    problems += walk(browser, OPS_PAGES, "a11y-", lang)
    # a search by the caller's last 4 digits: the call found, and its timeline
    browser.open(f"/ops/calls?q={known.timeline_last4}", ready="main h1")
    problems += look(browser, f"a11y-calls-found-{lang}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_for_an_agent_is_accessible(site: tuple[Browser, Known], lang: str) -> None:
    browser, _ = site
    enter(browser, AGENT, AGENT_PASSWORD, lang)
    problems = walk(browser, AGENT_PAGES, "a11y-agent-", lang)
    assert not problems, "\n".join(problems)


def test_the_check_finds_what_it_must(site: tuple[Browser, Known]) -> None:
    """The check is not blind: on the log-in page, an unlabelled field and pale grey words
    put there are reported, each with its rule and element; a minor one is not."""
    browser, _ = site
    browser.forget()
    browser.open("/ops/login", ready="#login-form")
    assert browser.inaccessible() == []
    browser.driver.execute_script("""
        const form = document.querySelector('#login-form');
        form.insertAdjacentHTML('beforeend', '<input id="unlabelled">' +
            '<p id="pale" style="color: #bbb; background: #fff">hard to read</p>' +
            '<table id="empty-head"><tr><th></th><th>x</th></tr><tr><td>1</td><td>2</td></tr></table>');
    """)
    found = "\n".join(browser.inaccessible())
    assert "axe critical: label " in found and "#unlabelled" in found, found
    assert "axe serious: color-contrast " in found and "#pale" in found, found
    assert "empty-table-header" not in found, found  # minor: reported by axe, not failed
    assert "empty-table-header" in {v["id"] for v in browser.axe()}


def test_the_keyboard_skips_to_the_page_and_sees_where_it_is(
        site: tuple[Browser, Known]) -> None:
    """The first Tab shows the skip link, Enter on it moves the focus to the page's content;
    the menu marks the page shown (aria-current) and only that one."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser, _ = site
    log_in(browser, OPS, OPS_PASSWORD)
    browser.open("/ops/audit", ready="#audit")
    ActionChains(browser.driver).send_keys(Keys.TAB).perform()
    focused = browser.driver.switch_to.active_element
    assert focused.get_attribute("class") == "skip" and focused.is_displayed()
    assert focused.rect["x"] >= 0 and focused.rect["y"] >= 0, focused.rect  # on the screen
    browser.screenshot(browser.shots / "a11y-skip-link-en.png", full=False)
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    assert browser.driver.execute_script("return document.activeElement.id") == "content"
    current = [a.get_attribute("pathname") for a in browser.all("#nav a[aria-current='page']")]
    assert current == ["/ops/audit"], current
