"""Reading the YAML files ops edit (the tree, the prompt catalog): text, lines and problems.

Every way a file can fail to read becomes one Problem naming the file (and the line and
column where that is known): unreadable, not UTF-8 (a ``zh-CN.yaml`` saved as GBK is the
usual one), not valid YAML. Mappings remember the line of each key and the keys given
twice, so later checks can point at the line of the mistake. No Flask, no Twilio.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ivr.errors import Problem

_CJK = re.compile(r"[\u4e00-\u9fff]")


class LineMapping(dict[Any, Any]):
    """A dict that remembers its line, each key's line, and the keys found twice."""

    line = 0
    key_lines: dict[str, int]
    duplicates: list[tuple[str, int]]

    def line_of(self, key: str) -> int:
        """The line of ``key`` in the file, else the mapping's own line."""
        return self.key_lines.get(key, self.line)


class _Lines:
    """Mappings as ``LineMapping``s: for a loader (``yaml.SafeLoader`` or libyaml's)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        result = LineMapping()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        result.duplicates = []
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
            if key in result:
                result.duplicates.append((str(key), key_node.start_mark.line + 1))
            result.key_lines.setdefault(str(key), key_node.start_mark.line + 1)
            result[key] = self.construct_object(value_node, deep=True)  # type: ignore[attr-defined]
        return result


class LineLoader(_Lines, yaml.SafeLoader):
    """The pure-Python safe loader: its syntax errors say what it found and expected."""


#: libyaml's parser where PyYAML was built with it (its wheels are): the same safe loading,
#: nodes and marks, ten times faster (the tree and the catalog are read at every start and
#: by every command); a file it refuses is read again by ``LineLoader`` for the message
_FastLoader: Any = type("FastLineLoader",
                        (_Lines, getattr(yaml, "CSafeLoader", yaml.SafeLoader)), {})

for _loader in (LineLoader, _FastLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                            _loader.construct_mapping)


def line_of(mapping: Any, key: str, default: int = 0) -> int:
    """The line of ``key`` in a mapping read by ``LineLoader`` (``default`` otherwise)."""
    return mapping.line_of(key) if isinstance(mapping, LineMapping) else default


def read_text(path: Path, source: str | None = None) -> tuple[str | None, Problem | None]:
    """The file's text, or the one Problem saying why it cannot be read as UTF-8 text."""
    source = source or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, Problem(source, f"cannot read: {exc.strerror or exc}")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, _not_utf8(data, exc, source)


def not_utf8(path: Path, source: str | None = None) -> Problem | None:
    """Why ``path`` is not UTF-8 text, with the encoding it looks like; None when it is
    (or cannot be read at all, which is another problem). Every reader of an ops-edited
    file, and every check of a file named on the command line, says it this one way."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _not_utf8(data, exc, source or str(path))
    return None


def _not_utf8(data: bytes, exc: UnicodeDecodeError, source: str) -> Problem:
    start = exc.start
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    guess = ""
    try:
        if _CJK.search(data.decode("gbk")):
            guess = " (it looks like GBK)"
    except UnicodeDecodeError:
        pass
    return Problem(f"{source}:{line}:{column}",
                   f"not UTF-8: byte 0x{data[start]:02x} cannot be read{guess}; "
                   "save the file as UTF-8")


def yaml_problem(exc: yaml.YAMLError, source: str, text: str | None = None) -> Problem:
    """A YAML syntax error as one Problem at the file, line and column it names."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        message = exc.problem or "syntax error"
        if exc.context:
            context = exc.context
            if exc.context_mark is not None and exc.context_mark.line != mark.line:
                context += f" at line {exc.context_mark.line + 1}"
            message = f"{message} ({context})"
        return Problem(f"{source}:{mark.line + 1}:{mark.column + 1}", f"not valid YAML: {message}")
    if isinstance(exc, yaml.reader.ReaderError):
        where = source
        if text is not None:
            line = text.count("\n", 0, exc.position) + 1
            where = f"{source}:{line}:{exc.position - (text.rfind(chr(10), 0, exc.position) + 1) + 1}"
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        return Problem(where, f"not valid YAML: the character {character!r} is not allowed "
                              f"({exc.reason})")
    return Problem(source, f"not valid YAML: {str(exc).replace('<unicode string>', source)}")


def load_yaml(path: Path, source: str | None = None) -> tuple[Any, Problem | None]:
    """Read and parse a YAML file with ``LineLoader``; (data, None) or (None, problem)."""
    source = source or str(path)
    text, problem = read_text(path, source)
    if text is None:
        return None, problem
    return parse_yaml(text, source)


def parse_yaml(text: str, source: str, loaders: tuple[Any, Any] = (_FastLoader, LineLoader),
               ) -> tuple[Any, Problem | None]:
    """Parse YAML text with the fast loader, mappings as ``LineMapping``s by default;
    (data, None) or (None, the problem as the pure-Python loader words it)."""
    fast, clear = loaders
    try:
        return yaml.load(text, Loader=fast), None  # noqa: S506 - safe loaders only
    except yaml.YAMLError:
        pass
    try:  # the same text again, for the pure-Python parser's clearer message
        return yaml.load(text, Loader=clear), None  # noqa: S506
    except yaml.YAMLError as exc:
        return None, yaml_problem(exc, source, text)


def safe_loaders(**attributes: Any) -> tuple[Any, Any]:
    """libyaml's safe loader and the pure-Python one, both given ``attributes`` (a
    loader's resolvers, say), for ``parse_yaml``."""
    return (type("FastLoader", (getattr(yaml, "CSafeLoader", yaml.SafeLoader),), attributes),
            type("ClearLoader", (yaml.SafeLoader,), attributes))
