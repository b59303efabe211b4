"""The prompt catalog: every word a caller hears, per language, read from ``prompts/``.

Ops edit it at the checkout's top (``prompts/``); ``ivr/data/prompts`` is a link to it, so that
the wheel carries the catalog inside the package and an installed ``ivr`` finds it anywhere.

One YAML file per language (``zh-CN.yaml``, ``en-US.yaml``), each a flat
mapping of prompt key to text. Text may hold ``{placeholders}`` for the dynamic parts
(amounts, dates, ticket numbers, waits); those are filled at call time, and must be
values the code gives that prompt (``ivr/flow/prompt_values.py``; ``problems`` checks, so
``ivr lint`` and the app's start do). A value still missing in a call is logged and left
out of what the caller hears, never a failed call. No I/O but ``load``.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ivr.errors import MenuError, Problem, close_match
from ivr.flow import prompt_values
from ivr.flow.call import Utterance
from ivr.menu.source import LineMapping, load_yaml

log = logging.getLogger(__name__)

DEFAULT_LANG = "zh-CN"
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "data" / "prompts"

_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_STOP = re.compile(r"\s+([,.;:!?，。；：！？、])")
_BRACED = re.compile(r"\{[^{}]*\}?|\}")


def _parse(text: str) -> list[tuple[str, str | None, str, str | None]]:
    return [(literal, name, spec or "", conv)
            for literal, name, spec, conv in string.Formatter().parse(text)]


@lru_cache(maxsize=4096)
def placeholders(text: str) -> frozenset[str]:
    """The ``{names}`` a prompt text expects (cached: asked for every utterance of every call).

    A text whose braces do not parse expects nothing the code can give; ``format_problem``
    says what is wrong with it.
    """
    try:
        return frozenset(name for _, name, _, _ in _parse(text) if name)
    except ValueError:
        return frozenset()


def format_problem(text: str) -> str | None:
    """What is wrong with a text's ``{placeholders}`` as written, or None."""
    try:
        parsed = _parse(text)
    except ValueError as exc:
        return f"the braces do not parse ({exc}); a literal brace is written {{{{ or }}}}"
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            return f"placeholder {{{name}}} is not a name"
    return None


#: a sentence that ends in an abbreviation filled in ("... to 10 p.m." + ".") takes one stop
_ONE_STOP = re.compile(r"(?<=[a-z]\.)\.(?!\.)")


def fill_safely(raw: str, values: dict[str, object]) -> str:
    """The text with what can be filled filled and every other placeholder left out."""
    out: list[str] = []
    try:
        for literal, name, spec, _ in _parse(raw):
            out.append(literal)
            if name and name in values:
                try:
                    out.append(format(values[name], spec))
                except (TypeError, ValueError):
                    out.append(str(values[name]))
    except ValueError:
        out = [_BRACED.sub("", raw)]
    return _SPACE_BEFORE_STOP.sub(r"\1", _SPACES.sub(" ", "".join(out))).strip()


@dataclass(frozen=True, slots=True)
class Catalog:
    """Prompt texts by language, then key."""

    texts: dict[str, dict[str, str]]
    source: str = "prompts"
    default_lang: str = DEFAULT_LANG
    #: the line of each key in its language's file, for problems that point at it
    lines: dict[str, dict[str, int]] = field(default_factory=dict, compare=False, repr=False)
    #: utterances without values, made once: a call says the same pieces again and again
    _spoken: dict[tuple[str, str], Utterance] = field(default_factory=dict, compare=False,
                                                      repr=False)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def has(self, lang: str, key: str) -> bool:
        return key in self.texts.get(lang, {})

    def raw(self, lang: str, key: str) -> str:
        """The unfilled text, falling back to the default language."""
        texts = self.texts.get(lang) or self.texts[self.default_lang]
        return texts.get(key) or self.texts[self.default_lang][key]

    def text(self, lang: str, key: str, **values: object) -> str:
        """The text with its placeholders filled.

        A placeholder the code did not give a value for (a typo in the file, a value the
        code forgot) is logged and left out: the caller hears the rest, never a failed
        call. ``ivr lint`` finds these before a caller does.
        """
        raw = self.raw(lang, key)
        if not values and not placeholders(raw) and "{" not in raw and "}" not in raw:
            return raw
        try:
            filled = raw.format(**values)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            log.error("prompt %s/%s cannot be filled (%s: %s; given %s): speaking it "
                      "without the missing part", lang, key, type(exc).__name__, exc,
                      sorted(values) or "nothing")
            filled = fill_safely(raw, values)
        return _ONE_STOP.sub("", filled)

    def utterance(self, lang: str, key: str, **values: object) -> Utterance:
        """The prompt as spoken in ``lang``: its key, its filled text and its language."""
        if values:
            return Utterance(key, self.text(lang, key, **values), lang)
        spoken = self._spoken.get((lang, key))
        if spoken is None:
            spoken = self._spoken[lang, key] = Utterance(key, self.text(lang, key), lang)
        return spoken

    def where(self, lang: str, key: str) -> str:
        """``<dir>/<lang>.yaml:<line> <key>``: where a prompt is written."""
        line = self.lines.get(lang, {}).get(key)
        return f"{self.source}/{lang}.yaml:{line} {key}" if line else \
            f"{self.source}/{lang}.yaml:{key}"

    def problems(self, given: Callable[[str], frozenset[str]] = prompt_values.given
                 ) -> list[Problem]:
        """Keys missing from a language, placeholders the code does not give (``given``:
        ``ivr/flow/prompt_values.py``), and placeholders that differ between languages."""
        found: list[Problem] = []
        every = sorted({k for texts in self.texts.values() for k in texts})
        for key in every:
            names = given(key)
            for lang in self.texts:
                if key not in self.texts[lang]:
                    found.append(Problem(f"{self.source}/{lang}.yaml:{key}", "missing translation"))
                else:
                    found += self._unknown(lang, key, names)
            # fmt_* keys are formats (dates, amounts) that may pick any of the fields given
            shapes = {lang: placeholders(t[key]) & names
                      for lang, t in self.texts.items() if key in t}
            if len(set(shapes.values())) > 1 and not key.startswith("fmt_"):
                detail = ", ".join(f"{lang} {sorted(s)}" for lang, s in shapes.items())
                found.append(Problem(f"{self.source}:{key}", f"placeholders differ: {detail}"))
        return found

    def _unknown(self, lang: str, key: str, names: frozenset[str]) -> list[Problem]:
        """The placeholders of one text that the code will not fill, as one problem."""
        text = self.texts[lang][key]
        where = self.where(lang, key)
        if (bad := format_problem(text)) is not None:
            return [Problem(where, bad)]
        unknown = sorted(placeholders(text) - names)
        if not unknown:
            return []
        shown = ", ".join(f"{{{n}}}" for n in unknown)
        if not names:
            return [Problem(where, f"{shown}: the code gives this prompt no values, so the "
                                   "caller would hear it without them (ivr/flow/prompt_values.py)")]
        meant = [f"{{{m}}}" for n in unknown if (m := close_match(n, names, 0.6)) is not None]
        hint = f"; did you mean {' or '.join(meant)}?" if meant else ""
        return [Problem(where, f"{shown}: not a value the code gives this prompt (it gives "
                               f"{', '.join(f'{{{n}}}' for n in sorted(names))}){hint}")]


def load(directory: Path | str = DEFAULT_DIR) -> Catalog:
    """Read every ``<lang>.yaml`` in ``directory``; raise MenuError listing every bad file."""
    directory = Path(directory)
    texts: dict[str, dict[str, str]] = {}
    lines: dict[str, dict[str, int]] = {}
    problems: list[Problem] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise MenuError([Problem(str(directory), "no <lang>.yaml prompt files")], "prompts")
    for path in files:
        data, problem = load_yaml(path)
        if problem is not None:
            problems.append(problem)  # not UTF-8, not YAML: one problem naming the file
            continue
        data = data or {}
        if not isinstance(data, dict):
            problems.append(Problem(str(path), "must be a mapping of prompt key to text"))
            continue
        at = data.line_of if isinstance(data, LineMapping) else (lambda key: 0)
        if isinstance(data, LineMapping):
            problems += [Problem(f"{path}:{line} {key}", "duplicate key (the text above it "
                                                         "would be lost)")
                         for key, line in data.duplicates]
        for key, value in data.items():
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(f"{path}:{at(str(key))} {key}",
                                        "prompt text must be a non-empty string"))
        texts[path.stem] = {str(k): str(v).strip() for k, v in data.items() if isinstance(v, str)}
        lines[path.stem] = {str(k): at(str(k)) for k in data}
    if DEFAULT_LANG not in texts and not problems:
        problems.append(Problem(str(directory), f"the default language {DEFAULT_LANG} has no file"))
    if problems:
        raise MenuError(problems, "prompts")
    return Catalog(texts, source=str(directory), lines=lines)
