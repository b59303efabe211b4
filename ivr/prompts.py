"""The prompt catalog: every word a caller hears, per language, read from ``ivr/data/prompts/``.

One YAML file per language (``zh-CN.yaml``, ``en-US.yaml``), each a flat
mapping of prompt key to text. Text may hold ``{placeholders}`` for the dynamic parts
(amounts, dates, ticket numbers, waits); those are filled at call time. No I/O but
``load``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ivr.errors import MenuError, Problem

DEFAULT_LANG = "zh-CN"
DEFAULT_DIR = Path(__file__).resolve().parent / "data" / "prompts"


@lru_cache(maxsize=4096)
def placeholders(text: str) -> frozenset[str]:
    """The ``{names}`` a prompt text expects (cached: asked for every utterance of every call)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Prompt texts by language, then key."""

    texts: dict[str, dict[str, str]]
    source: str = "prompts"
    default_lang: str = DEFAULT_LANG

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
        """The text with its placeholders filled."""
        raw = self.raw(lang, key)
        return raw.format(**values) if values or placeholders(raw) else raw

    def problems(self) -> list[Problem]:
        """Keys missing from a language, or with placeholders that differ between languages."""
        found: list[Problem] = []
        every = sorted({k for texts in self.texts.values() for k in texts})
        for key in every:
            shapes = {lang: placeholders(t[key]) for lang, t in self.texts.items() if key in t}
            for lang in self.texts:
                if key not in self.texts[lang]:
                    found.append(Problem(f"{self.source}/{lang}.yaml:{key}", "missing translation"))
            # fmt_* keys are formats (dates, amounts) that may pick any of the fields given
            if len(set(shapes.values())) > 1 and not key.startswith("fmt_"):
                detail = ", ".join(f"{lang} {sorted(s)}" for lang, s in shapes.items())
                found.append(Problem(f"{self.source}:{key}", f"placeholders differ: {detail}"))
        return found


def load(directory: Path | str = DEFAULT_DIR) -> Catalog:
    """Read every ``<lang>.yaml`` in ``directory``; raise MenuError listing every bad file."""
    directory = Path(directory)
    texts: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise MenuError([Problem(str(directory), "no <lang>.yaml prompt files")], "prompts")
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            problems.append(Problem(str(path), f"not valid YAML: {exc}"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(str(path), "must be a mapping of prompt key to text"))
            continue
        for key, value in data.items():
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(f"{path}:{key}", "prompt text must be a non-empty string"))
        texts[path.stem] = {str(k): str(v).strip() for k, v in data.items() if isinstance(v, str)}
    if DEFAULT_LANG not in texts and not problems:
        problems.append(Problem(str(directory), f"the default language {DEFAULT_LANG} has no file"))
    if problems:
        raise MenuError(problems, "prompts")
    return Catalog(texts, source=str(directory))
