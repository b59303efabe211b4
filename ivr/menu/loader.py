"""Read the menu tree from YAML: the only place the tree file is parsed.

Parsing keeps every node's and field's line and reports duplicate keys (plain YAML
silently keeps the last one, which would hide an ops mistake); a file that is not UTF-8
or not YAML is one problem at its file, line and column (``source``). A misspelt field
close to a known one is reported once and read as meant, and a node of an unknown kind
is remembered as written (``Menu.broken``), so ``validate`` does not report the same
mistake again as a missing field, an undefined target or an unreachable subtree. Shape
problems are collected, not raised, so ``ivr lint`` can list them all together with the
semantic ones from ``validate``.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from ivr.errors import MenuError, Problem, close_match
from ivr.menu.model import Kind, Menu, Node, Option
from ivr.menu.source import LineMapping, line_of, parse_yaml, read_text

DEFAULT_MENU = Path(__file__).resolve().parent.parent / "menus" / "wallet.yaml"
_NODE_FIELDS = {f.name for f in fields(Node)} - {"id", "line", "lines"}
_TOP_FIELDS = {"start", "main", "fallback", "verify", "queues", "settings", "nodes"}
_REQUIRED_TOP = ("start", "main", "fallback")


def _empty(source: str) -> Menu:
    return Menu({}, "", "", "", (), source)


def _strings(value: Any) -> list[str]:
    """Every string inside a YAML value (to find the node ids a broken part names)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _dupes(where: str, mapping: Any, source: str) -> list[Problem]:
    if not isinstance(mapping, LineMapping):
        return []
    return [Problem(f"{source}:{line} {where}", f"duplicate key '{key}'")
            for key, line in mapping.duplicates]


class _NodeReader:
    """Reads one node, collecting its problems and the node ids its unreadable parts name."""

    def __init__(self, node_id: str, raw: Any, source: str, ids: set[str], line: int) -> None:
        self.id, self.raw, self.source, self.ids = node_id, raw, source, ids
        self.where = f"nodes.{node_id}"
        self.line = line  # of the node's id
        self.problems: list[Problem] = []
        self.loose: list[str] = []
        self.lines: dict[str, int] = {}

    def loc(self, field: str = "", line: int | None = None) -> str:
        suffix = f".{field}" if field else ""
        return f"{self.source}:{line or self.line} {self.where}{suffix}"

    def lose(self, value: Any) -> None:
        """A part that could not be read: what it names still counts as reached."""
        self.loose += [s for s in _strings(value) if s in self.ids and s not in self.loose]

    def option(self, raw: Any, key: str, field: str, line: int) -> Option | None:
        if isinstance(raw, str):
            return Option(key=key, goto=raw)
        if not isinstance(raw, dict) or "goto" not in raw:
            self.problems.append(Problem(self.loc(field, line),
                                         "must be a node id or a mapping with 'goto'"))
            self.lose(raw)
            return None
        self.problems += _dupes(f"{self.where}.{field}", raw, self.source)
        for extra in sorted(set(raw) - {"goto", "lang", "label", "say"}, key=str):
            self.problems.append(Problem(self.loc(field, line_of(raw, str(extra), line)),
                                         f"unknown field '{extra}'"))
        say = raw.get("say")
        return Option(key=key, goto=str(raw["goto"]), lang=raw.get("lang"),
                      label=str(raw.get("label", "")), say=None if say is None else str(say))

    def read(self) -> Node | None:
        raw = self.raw
        if not isinstance(raw, dict):
            self.problems.append(Problem(self.loc(), "a node must be a mapping"))
            self.lose(raw)
            return None
        self.problems += _dupes(self.where, raw, self.source)
        self.lines = {str(k): line_of(raw, str(k), self.line) for k in raw}
        values = {k: v for k, v in raw.items() if k in _NODE_FIELDS}
        for name in sorted(set(raw) - _NODE_FIELDS, key=str):
            meant = close_match(str(name), _NODE_FIELDS - set(raw))
            line = self.lines[str(name)]
            if meant:
                # read as the field it was meant to be, so the one typo is the one problem
                self.problems.append(Problem(self.loc(line=line), f"unknown field '{name}'; "
                                                                  f"did you mean '{meant}'?"))
                values[meant] = raw[name]
                self.lines[meant] = line
            else:
                self.problems.append(Problem(self.loc(line=line), f"unknown field '{name}'"))
                self.lose(raw[name])
        kind_line = self.lines.get("kind", self.line)
        if values.get("kind") is None:
            self.problems.append(Problem(self.loc(line=kind_line), "a node needs a 'kind': one "
                                         f"of {', '.join(k.value for k in Kind)}"))
            self.lose({k: v for k, v in values.items() if k != "kind"})
            return None
        try:
            kind = Kind(str(values["kind"]))
        except ValueError:
            meant = close_match(str(values["kind"]), [k.value for k in Kind], 0.6)
            hint = f"; did you mean '{meant}'?" if meant else ""
            self.problems.append(Problem(self.loc(line=kind_line), (
                f"unknown kind {values['kind']!r}{hint} (one of "
                f"{', '.join(k.value for k in Kind)})")))
            self.lose({k: v for k, v in values.items() if k != "kind"})
            return None
        options: list[Option] = []
        raw_options = values.get("options") or {}
        if not isinstance(raw_options, dict):
            self.problems.append(Problem(self.loc("options", self.lines.get("options")),
                                         "options must be a mapping of key to target"))
            self.lose(raw_options)
            raw_options = {}
        self.problems += _dupes(f"{self.where}.options", raw_options, self.source)
        for key, target in raw_options.items():
            field = f"options['{key}']"
            line = line_of(raw_options, str(key), self.line)
            self.lines[field] = line
            option = self.option(target, str(key), field, line)
            if option:
                options.append(option)
        no_input = values.get("no_input")
        if isinstance(no_input, dict):
            no_input = self.option(no_input, "", "no_input", self.lines.get("no_input", self.line))
        rest = {k: v for k, v in values.items()
                if k not in {"options", "no_input", "kind", "phrases", "speech"}}
        speech = values.get("speech")
        if speech is not None and not isinstance(speech, bool):
            self.problems.append(Problem(self.loc("speech", self.lines.get("speech")),
                                         f"speech must be true or false, not {speech!r}"))
            speech = None
        return Node(id=self.id, kind=kind, options=tuple(options), no_input=no_input,
                    speech=speech, phrases=self.phrases(values.get("phrases")),
                    line=self.line, lines=self.lines, **rest)

    def phrases(self, raw: Any) -> dict[str, tuple[str, ...]]:
        """``phrases: {zh-CN: [充值, 没到账], en-US: [top up]}``: by language, each a list
        of what callers say (one string is a list of one)."""
        if raw is None:
            return {}
        line = self.lines.get("phrases")
        if not isinstance(raw, dict):
            self.problems.append(Problem(self.loc("phrases", line), "phrases must be a "
                                         "mapping of language to a list of phrases"))
            return {}
        self.problems += _dupes(f"{self.where}.phrases", raw, self.source)
        found: dict[str, tuple[str, ...]] = {}
        for lang, said in raw.items():
            where = f"phrases.{lang}"
            self.lines[where] = line_of(raw, str(lang), line or self.line)
            said = [said] if isinstance(said, str) else said
            if not isinstance(said, list) or not said or not all(
                    isinstance(p, str) and p.strip() for p in said):
                self.problems.append(Problem(self.loc(where, self.lines[where]), "must be a "
                                             "list of phrases, each some words callers say"))
                continue
            found[str(lang)] = tuple(p.strip() for p in said)
        return found


def _number(settings: Any, name: str, default: int, where: str,
            problems: list[Problem]) -> int:
    value = settings.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(Problem(f"{where}.{name}", f"must be a whole number above 0, "
                                                   f"not {value!r}"))
        return default
    return value


_TYPE_NAMES = {list: "a list", dict: "a mapping", LineMapping: "a mapping", bool: "true/false",
               float: "a number"}


def _node_id(name: str, value: Any, where: str, ids: set[str],
             problems: list[Problem]) -> str | None:
    """A top-level field naming a node, as text; a value of another type (``start:
    [welcome]``) is one problem naming the type, read as meant when it holds one node id.
    None when the field is absent, so only then is it reported missing."""
    if value is None or value == "":
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    named = [s for s in _strings(value) if s in ids]
    meant = named[0] if len(named) == 1 else ""
    hint = f"; did you mean '{meant}'?" if meant else ""
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    problems.append(Problem(where, f"must be one node id, not {kind}{hint}"))
    return meant


def parse(text: str, source: str = "menu") -> tuple[Menu, list[Problem]]:
    """Build a Menu from YAML text, with every shape problem found on the way."""
    problems: list[Problem] = []
    raw, problem = parse_yaml(text, source)
    if problem:
        return _empty(source), [problem]
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), dict):
        line = line_of(raw, "nodes", 1)
        return _empty(source), [Problem(f"{source}:{line}", "needs a 'nodes' mapping")]
    problems += _dupes("(top level)", raw, source) + _dupes("nodes", raw["nodes"], source)
    top = {k: v for k, v in raw.items() if k in _TOP_FIELDS}
    lines = {str(k): line_of(raw, str(k), 1) for k in raw}
    for key in sorted(set(raw) - _TOP_FIELDS, key=str):
        meant = close_match(str(key), _TOP_FIELDS - set(raw))
        hint = f"; did you mean '{meant}'?" if meant else ""
        problems.append(Problem(f"{source}:{lines[str(key)]} {key}",
                                f"unknown top-level field{hint}"))
        if meant:  # read as meant, so a misspelt 'start' is not also a missing one
            top[meant], lines[meant] = raw[key], lines[str(key)]
    ids = {str(k) for k in raw["nodes"]}
    nodes: dict[str, Node] = {}
    broken: dict[str, int] = {}
    loose: dict[str, tuple[str, ...]] = {}
    for node_id, node_raw in raw["nodes"].items():
        reader = _NodeReader(str(node_id), node_raw, source, ids,
                             line_of(raw["nodes"], str(node_id)))
        node = reader.read()
        problems += reader.problems
        if node:
            nodes[node.id] = node
        else:
            broken[reader.id] = reader.line
        if reader.loose:
            loose[reader.id] = tuple(reader.loose)
    for name in ("start", "main", "fallback", "verify"):
        top[name] = _node_id(name, top.get(name), f"{source}:{lines.get(name, 1)} {name}",
                             ids, problems)
    for name in _REQUIRED_TOP:
        if top[name] is None:
            problems.append(Problem(f"{source} {name}", f"the tree needs a '{name}' node id"))
    settings = top.get("settings") or {}
    if not isinstance(settings, dict):
        problems.append(Problem(f"{source}:{lines['settings']} settings",
                                "settings must be a mapping"))
        settings = {}
    where = f"{source}:{lines.get('settings', 0)} settings"
    queues = top.get("queues") or ()
    if not isinstance(queues, list | tuple):
        problems.append(Problem(f"{source}:{lines['queues']} queues",
                                "queues must be a list of queue names"))
        queues = ()
    menu = Menu(
        nodes=nodes,
        start=top.get("start") or "",
        main=top.get("main") or "",
        fallback=top.get("fallback") or "",
        queues=tuple(str(q) for q in queues),
        source=source,
        verify=top.get("verify") or "",
        max_failures=_number(settings, "max_failures", 3, where, problems),
        timeout_s=_number(settings, "timeout_s", 5, where, problems),
        settings=dict(settings),
        lines={k: v for k, v in lines.items() if k in _TOP_FIELDS},
        broken=broken,
        loose=loose,
    )
    return menu, problems


def load(path: Path | str | None = None) -> tuple[Menu, list[Problem]]:
    """Read the tree at ``path`` (default: the shipped wallet tree)."""
    path = Path(path or DEFAULT_MENU)
    text, problem = read_text(path)  # a file that cannot be read is named in full
    if text is None:
        assert problem is not None
        return _empty(path.name), [problem]
    return parse(text, source=path.name)


def check(path: Path | str | None, catalog: Any) -> tuple[Menu, list[Problem]]:
    """Load and validate: every problem of the tree, as written and as meant (what the
    app's start and the commands that read a tree report)."""
    from ivr.menu.validate import validate

    menu, problems = load(path)
    return menu, problems + (validate(menu, catalog) if menu.nodes else [])


def load_validated(path: Path | str | None, catalog: Any) -> Menu:
    """Load and validate; raise MenuError listing every problem, so the app refuses to start."""
    menu, problems = check(path, catalog)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise MenuError(problems, menu.source)
    return menu
