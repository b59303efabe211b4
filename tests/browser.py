"""A real headless Chromium driven by Selenium, for the console's browser test.

    with headless(base_url, shots) as browser:
        browser.open("/ops/login", ready="#login-form")
        browser.check("login")  # no error page, no console errors; a screenshot

Chromium and its driver come from the system's packages (Debian's ``chromium`` and
``chromium-driver``, which ``.ci/run`` installs); Selenium is told where the driver is and
never downloads one (Selenium Manager is off). Without them the test is skipped with one
line saying what to install (``require_chromium``, called as the test module is
imported).

Every page is checked the same way: each HTTP answer the browser got for it (the page, its
redirects' target, its stylesheet) is below 400, the page does not read like an error
("Traceback", "Internal Server Error", a title starting with a status code), and the
browser's console logged nothing SEVERE.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

MISSING = "headless Chromium not installed: apt-get install chromium chromium-driver"
WINDOW = (1366, 900)
WAIT_S = 10.0
#: words of an error page, from Flask, Werkzeug or gunicorn
ERROR_WORDS = ("Traceback", "Internal Server Error", "Bad Request", "Method Not Allowed",
               "The CSRF token")
ERROR_TITLE = re.compile(r"^\s*[45]\d\d\b")

# -- accessibility (issue 24): axe-core, vendored, run in the page ------------------------
#: axe-core's script, committed with its licence (tests/vendor/axe-core/README.md): a test
#: run downloads nothing
AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
#: the impacts that fail a page (axe's scale: minor, moderate, serious, critical)
AXE_FAILING = frozenset({"serious", "critical"})
#: runs axe on ``arguments[0]`` (a CSS selector, or null for the whole document) and
#: hands back the violations, each with its rule, impact, help and nodes' selectors
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(arguments[0] || document, {resultTypes: ["violations"]}).then(
  results => done(results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(" "), impact: n.impact,
                              summary: n.failureSummary}))}))),
  error => done([{id: "axe-error", impact: "critical", help: String(error), helpUrl: "",
                  nodes: []}]));
"""


def chromium() -> tuple[str, str] | None:
    """The paths of Chromium and its driver, or None when either is not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver",) if Path(p).exists()), None)
    return (browser, driver) if browser and driver else None


def require_chromium() -> tuple[str, str]:
    """Chromium, its driver and Selenium, or skip the whole test module in one line."""
    found = chromium()
    if found is None:
        pytest.skip(MISSING, allow_module_level=True)
    pytest.importorskip("selenium", reason="selenium not installed: pip install -e '.[test]'")
    return found


class Browser:
    """One headless Chromium on the console at ``base_url``; screenshots go to ``shots``."""

    def __init__(self, driver: Any, base_url: str, shots: Path) -> None:
        self.driver, self.base_url, self.shots = driver, base_url, shots

    # -- moving about ----------------------------------------------------------------------

    def wait(self, css: str, timeout_s: float = WAIT_S) -> Any:
        """The first element matching ``css``, once it is on the page."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout_s).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, css)))
        except Exception as exc:  # TimeoutException: say where we were and what we saw
            raise AssertionError(f"no {css!r} on {self.driver.current_url} after "
                                 f"{timeout_s:.0f} s; the page says:\n{self.body()[:2000]}") from exc

    def open(self, path: str, ready: str, check: str | None = None) -> Any:
        """Go to ``path`` of the console and wait for ``ready`` (a CSS selector); with
        ``check``, check the page (``check``) under that name before its figures are read."""
        self.driver.get(self.base_url + path)
        return self._arrived(ready, check)

    def submit(self, button: Any, ready: str, check: str | None = None) -> Any:
        """Click ``button`` (of a form), wait for the page it leads to, then for ``ready``;
        ``check`` as for ``open``."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # the old document is marked, and the new one is the first without the mark. Not
        # ``staleness_of(<html>)``: while the old document is torn down, Chromium may answer
        # that element with "Node with given id does not belong to the document" (an
        # unknown error, not a stale element), which failed a CI run
        self.driver.execute_script("window.__ivrLeaving = true")
        button.click()
        WebDriverWait(self.driver, WAIT_S, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: driver.execute_script("return window.__ivrLeaving !== true"))
        return self._arrived(ready, check)

    def _arrived(self, ready: str, check: str | None) -> Any:
        found = self.wait(ready)
        if check:
            self.check(check)
        return found

    def find(self, css: str) -> Any:
        return self.driver.find_element("css selector", css)

    def all(self, css: str) -> list[Any]:
        return list(self.driver.find_elements("css selector", css))

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def body(self) -> str:
        try:
            return str(self.driver.find_element("tag name", "body").text)
        except Exception:  # no body yet (a page still loading)
            return ""

    # -- checking --------------------------------------------------------------------------

    def take(self) -> tuple[list[tuple[int, str]], list[str]]:
        """The HTTP answers (status, url) from the console and the SEVERE console messages
        logged since the last look; the browser's logs are emptied."""
        answers = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.responseReceived":
                continue
            response = message["params"]["response"]
            if response["url"].startswith(self.base_url):
                answers.append((int(response["status"]), response["url"]))
        severe = [e["message"] for e in self.driver.get_log("browser")
                  if e["level"] == "SEVERE"]
        return answers, severe

    def problems(self) -> list[str]:
        """What went wrong on the page now shown and the answers that led to it."""
        answers, severe = self.take()
        found = [f"HTTP {status} for {url}" for status, url in answers if status >= 400]
        found += [f"console: {message}" for message in severe]
        text, title = self.body(), self.driver.title
        found += [f"the page says {word!r}" for word in ERROR_WORDS if word in text]
        if ERROR_TITLE.match(title):
            found.append(f"an error page: {title!r}")
        return found

    def check(self, name: str) -> Path:
        """Fail if the page shows an error or axe-core finds a serious or critical
        accessibility violation on it; keep its screenshot as ``<name>.png``."""
        shot = self.screenshot(self.shots / f"{name}.png")
        problems = self.problems() + self.inaccessible()
        assert not problems, (f"{name} ({self.driver.current_url}, screenshot {shot}):\n"
                              + "\n".join(problems) + "\n--- the page:\n" + self.body()[:2000])
        return shot

    def axe(self, context: str | None = None) -> list[dict[str, Any]]:
        """axe-core's violations on the page now shown (or on the elements ``context``
        selects), each ``{id, impact, help, helpUrl, nodes: [{target, impact, summary}]}``."""
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(AXE_SCRIPT.read_text(encoding="utf-8"))
        return list(self.driver.execute_async_script(AXE_RUN, context))

    def inaccessible(self) -> list[str]:
        """axe-core's serious and critical violations on the page now shown, one line per
        rule and one per offending element."""
        found: list[str] = []
        for violation in self.axe():
            if violation["impact"] not in AXE_FAILING:
                continue
            found.append(f"axe {violation['impact']}: {violation['id']} ({violation['help']}; "
                         f"{violation['helpUrl']})")
            found += [f"    {node['target']}: {' '.join((node['summary'] or '').split())}"
                      for node in violation["nodes"]
                      if node["impact"] in AXE_FAILING or node["impact"] is None]
        return found

    def screenshot(self, path: Path, full: bool = True) -> Path:
        """The page as a PNG: the whole page (as tall as it is) or the window only."""
        import base64

        path.parent.mkdir(parents=True, exist_ok=True)
        if not full:
            self.driver.save_screenshot(str(path))
            return path
        width, height = self.driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": max(width, WINDOW[0]),
                     "height": max(height, 200), "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def forget(self) -> None:
        """Drop the session (cookies) and whatever was logged so far."""
        self.driver.delete_all_cookies()
        self.take()


@contextmanager
def headless(base_url: str, shots: Path) -> Iterator[Browser]:
    """A headless Chromium (``require_chromium()`` finds it or skips) for the console at
    ``base_url``."""
    browser_path, driver_path = require_chromium()
    os.environ.setdefault("SE_OFFLINE", "1")  # never let Selenium Manager fetch a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(WAIT_S * 2)
    driver.set_script_timeout(WAIT_S * 3)  # axe on the longest page (the report)
    try:
        yield Browser(driver, base_url, shots)
    finally:
        driver.quit()
