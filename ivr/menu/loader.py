"""Read the menu tree from YAML: the only place the tree file is parsed.

Parsing keeps every node's line and reports duplicate keys (plain YAML silently keeps the
last one, which would hide an ops mistake). Shape problems are collected, not raised, so
``ivr lint`` can list them all together with the semantic ones from ``validate``.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from ivr.errors import MenuError, Problem
from ivr.menu.model import Kind, Menu, Node, Option

DEFAULT_MENU = Path(__file__).resolve().parent.parent / "menus" / "wallet.yaml"
_NODE_FIELDS = {f.name for f in fields(Node)} - {"id", "line"}
_TOP_FIELDS = {"start", "main", "fallback", "verify", "queues", "settings", "nodes"}


class _Mapping(dict[Any, Any]):
    """A dict that remembers its line and the duplicate keys found while building it."""

    line = 0
    duplicates: list[tuple[str, int]]


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        result = _Mapping()
        result.line = node.start_mark.line + 1
        result.duplicates = []
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in result:
                result.duplicates.append((str(key), key_node.start_mark.line + 1))
            result[key] = self.construct_object(value_node, deep=True)
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


def _dupes(where: str, mapping: Any, source: str) -> list[Problem]:
    if not isinstance(mapping, _Mapping):
        return []
    return [Problem(f"{source}:{line} {where}", f"duplicate key '{key}'")
            for key, line in mapping.duplicates]


def _option(raw: Any, key: str, where: str, source: str, problems: list[Problem]) -> Option | None:
    if isinstance(raw, str):
        return Option(key=key, goto=raw)
    if not isinstance(raw, dict) or "goto" not in raw:
        problems.append(Problem(f"{source} {where}", "must be a node id or a mapping with 'goto'"))
        return None
    problems += _dupes(where, raw, source)
    extra = set(raw) - {"goto", "lang", "label"}
    if extra:
        problems.append(Problem(f"{source} {where}", f"unknown field(s) {sorted(extra)}"))
    return Option(key=key, goto=str(raw["goto"]), lang=raw.get("lang"), label=str(raw.get("label", "")))


def _node(node_id: str, raw: Any, source: str, problems: list[Problem]) -> Node | None:
    where = f"nodes.{node_id}"
    line = getattr(raw, "line", 0)
    loc = f"{source}:{line} {where}"
    if not isinstance(raw, dict):
        problems.append(Problem(loc, "a node must be a mapping"))
        return None
    problems += _dupes(where, raw, f"{source}")
    unknown = set(raw) - _NODE_FIELDS
    if unknown:
        problems.append(Problem(loc, f"unknown field(s) {sorted(unknown)}"))
    try:
        kind = Kind(str(raw.get("kind")))
    except ValueError:
        problems.append(Problem(loc, f"unknown kind {raw.get('kind')!r}; one of "
                                     f"{', '.join(k.value for k in Kind)}"))
        return None
    options: list[Option] = []
    raw_options = raw.get("options") or {}
    if not isinstance(raw_options, dict):
        problems.append(Problem(f"{loc}.options", "options must be a mapping of key to target"))
        raw_options = {}
    problems += _dupes(f"{where}.options", raw_options, source)
    for key, target in raw_options.items():
        option = _option(target, str(key), f"{where}.options['{key}']", f"{source}:{line}", problems)
        if option:
            options.append(option)
    no_input = raw.get("no_input")
    if isinstance(no_input, dict):
        no_input = _option(no_input, "", f"{where}.no_input", f"{source}:{line}", problems)
    values = {k: v for k, v in raw.items() if k in _NODE_FIELDS - {"options", "no_input", "kind"}}
    try:
        return Node(id=node_id, kind=kind, options=tuple(options), no_input=no_input,
                    line=line, **values)
    except TypeError as exc:  # pragma: no cover - guarded by the unknown-field check
        problems.append(Problem(loc, str(exc)))
        return None


def parse(text: str, source: str = "menu") -> tuple[Menu, list[Problem]]:
    """Build a Menu from YAML text, with every shape problem found on the way."""
    problems: list[Problem] = []
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        return Menu({}, "", "", "", (), source), [Problem(source, f"not valid YAML: {exc}")]
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), dict):
        return Menu({}, "", "", "", (), source), [Problem(source, "needs a 'nodes' mapping")]
    problems += _dupes("(top level)", raw, source) + _dupes("nodes", raw["nodes"], source)
    for key in sorted(set(raw) - _TOP_FIELDS):
        problems.append(Problem(f"{source} {key}", "unknown top-level field"))
    nodes = {}
    for node_id, node_raw in raw["nodes"].items():
        node = _node(str(node_id), node_raw, source, problems)
        if node:
            nodes[node.id] = node
    settings = dict(raw.get("settings") or {})
    for name in ("start", "main", "fallback"):
        if not raw.get(name):
            problems.append(Problem(f"{source} {name}", f"the tree needs a '{name}' node id"))
    menu = Menu(
        nodes=nodes,
        start=str(raw.get("start", "")),
        main=str(raw.get("main", "")),
        fallback=str(raw.get("fallback", "")),
        queues=tuple(str(q) for q in raw.get("queues") or ()),
        source=source,
        verify=str(raw.get("verify", "")),
        max_failures=int(settings.get("max_failures", 3)),
        timeout_s=int(settings.get("timeout_s", 5)),
        settings=settings,
    )
    return menu, problems


def load(path: Path | str | None = None) -> tuple[Menu, list[Problem]]:
    """Read the tree at ``path`` (default: the shipped wallet tree)."""
    path = Path(path or DEFAULT_MENU)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return Menu({}, "", "", "", (), str(path)), [Problem(str(path), f"cannot read: {exc}")]
    return parse(text, source=path.name)


def load_validated(path: Path | str | None, catalog: Any) -> Menu:
    """Load and validate; raise MenuError listing every problem, so the app refuses to start."""
    from ivr.menu.validate import validate

    menu, problems = load(path)
    problems += validate(menu, catalog) if menu.nodes else []
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise MenuError(problems, menu.source)
    return menu
