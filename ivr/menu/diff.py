"""What changed between two menu trees, in the tree's terms, not as a text diff.

``ivr menu diff`` prints these so ops review a tree change as callers will meet it: a
node added or removed, a key that now leads elsewhere, an option heard at another
position or under another key, a prompt that says other words (in which language).
Pure: the trees and, optionally, their prompt catalogs are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum

from ivr.menu.model import Menu, Node, Option, spoken_pieces
from ivr.menu.validate import FLOW_PROMPTS

#: the tree-wide settings compared, as ``Menu`` attributes
TREE_SETTINGS = ("start", "main", "fallback", "verify", "queues", "max_failures", "timeout_s")
#: the node fields that name a prompt (compared as prompt changes)
_PROMPT_FIELDS = ("prompt", "invalid", "no_input")
#: the other fields of a node, compared one by one
_NODE_FIELDS = ("next", "back", "fallback", "on_fail", "on_locked", "dispute", "queue", "issue",
                "action", "field", "format", "max_length_s", "timeout_s", "agent", "verified")


class What(StrEnum):
    """The kinds of change, as the JSON names them."""

    SETTING = "setting changed"
    NODE_ADDED = "node added"
    NODE_REMOVED = "node removed"
    KIND = "kind changed"
    FIELD = "field changed"
    OPTION_ADDED = "option added"
    OPTION_REMOVED = "option removed"
    OPTION_MOVED = "option moved"
    OPTION_REORDERED = "option reordered"
    OPTION_RENUMBERED = "option renumbered"
    OPTION_CHANGED = "option changed"
    PROMPT = "prompt changed"
    PROMPT_TEXT = "prompt text changed"


@dataclass(frozen=True, slots=True)
class Change:
    """One change: where in the tree, what kind, the value before and after."""

    what: What
    where: str
    before: str | None = None
    after: str | None = None
    #: the language whose prompt text changed
    lang: str | None = None

    def line(self) -> str:
        """One readable line: ``nodes.main.options['1']: option moved: a -> b``."""
        if self.before is None or self.after is None:
            value = self.after if self.before is None else self.before
            detail = f" ({value})" if value else ""
            return f"{self.where}: {self.what.value}{detail}"
        lang = f" in {self.lang}" if self.lang else ""
        return f"{self.where}: {self.what.value}{lang}: {self.before} -> {self.after}"

    def to_dict(self) -> dict[str, str | None]:
        return {**asdict(self), "what": self.what.value}


Texts = Mapping[str, Mapping[str, str]]  # language -> prompt key -> text


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, Option):
        return f"goto {value.goto}" + (f", lang {value.lang}" if value.lang else "")
    return "(none)" if value is None or value == "" else str(value)


def _quoted(text: str | None) -> str:
    return "(no text)" if text is None else f'"{text}"'


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _common(a: list[int], b: list[int]) -> set[int]:
    """The items of a longest common subsequence of ``a`` and ``b``: the options that kept
    their order, so moving one option is one change, not one per option it passed."""
    best = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            best[i][j] = best[i + 1][j + 1] + 1 if a[i] == b[j] else \
                max(best[i + 1][j], best[i][j + 1])
    kept, i, j = set(), 0, 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            kept.add(a[i])
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return kept


def _pair(old: Node, new: Node) -> tuple[list[tuple[Option, Option]], list[Option], list[Option]]:
    """Match the options of one menu in two trees: the same key and target first, then the
    same target and phrase under another key (renumbered), then the same key (moved
    elsewhere), then the same target under another key and phrase."""
    left, right = list(old.options), list(new.options)
    pairs: list[tuple[Option, Option]] = []
    passes: tuple[Callable[[Option, Option], bool], ...] = (
        lambda a, b: a.key == b.key and (a.goto, a.lang) == (b.goto, b.lang),
        lambda a, b: (a.goto, a.lang, a.say) == (b.goto, b.lang, b.say),
        lambda a, b: a.key == b.key,
        lambda a, b: (a.goto, a.lang) == (b.goto, b.lang))
    for same in passes:
        for a in list(left):
            b = next((b for b in right if same(a, b)), None)
            if b is not None:
                pairs.append((a, b))
                left.remove(a)
                right.remove(b)
    return pairs, left, right


def _options(node_id: str, old: Node, new: Node) -> Iterator[Change]:
    pairs, removed, added = _pair(old, new)
    at = f"nodes.{node_id}.options"
    for a, b in sorted(pairs, key=lambda p: new.options.index(p[1])):
        where = f"{at}['{b.key}']"
        if a.key != b.key:
            yield Change(What.OPTION_RENUMBERED, where, f"key {a.key}", f"key {b.key} "
                                                                        f"({_shown(b)})")
        elif (a.goto, a.lang) != (b.goto, b.lang):
            yield Change(What.OPTION_MOVED, where, _shown(a), _shown(b))
        if a.say != b.say:
            yield Change(What.PROMPT, f"{where}.say", _shown(a.say), _shown(b.say))
        if a.label != b.label:
            yield Change(What.OPTION_CHANGED, f"{where}.label", _shown(a.label), _shown(b.label))
    spoken = [i for i, (a, b) in enumerate(pairs) if a.say and b.say]
    before = sorted(spoken, key=lambda i: old.options.index(pairs[i][0]))
    after = sorted(spoken, key=lambda i: new.options.index(pairs[i][1]))
    kept = _common(before, after)
    for i in after:
        if i not in kept and before.index(i) != after.index(i):
            yield Change(What.OPTION_REORDERED, f"{at}['{pairs[i][1].key}']",
                         f"spoken {_ordinal(before.index(i) + 1)}",
                         f"spoken {_ordinal(after.index(i) + 1)}")
    yield from (Change(What.OPTION_REMOVED, f"{at}['{o.key}']", before=_shown(o))
                for o in removed)
    yield from (Change(What.OPTION_ADDED, f"{at}['{o.key}']", after=_shown(o)) for o in added)


def _node(node_id: str, old: Node, new: Node) -> Iterator[Change]:
    where = f"nodes.{node_id}"
    if old.kind is not new.kind:
        yield Change(What.KIND, f"{where}.kind", old.kind.value, new.kind.value)
    for name in _PROMPT_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if isinstance(a, Option) or isinstance(b, Option):
            if a != b:
                yield Change(What.FIELD, f"{where}.{name}", _shown(a), _shown(b))
        elif a != b:
            yield Change(What.PROMPT, f"{where}.{name}", _shown(a), _shown(b))
    for name in _NODE_FIELDS:
        if getattr(old, name) != getattr(new, name):
            yield Change(What.FIELD, f"{where}.{name}", _shown(getattr(old, name)),
                         _shown(getattr(new, name)))
    yield from _options(node_id, old, new)


def used_prompts(menu: Menu) -> dict[str, str]:
    """Every prompt key the tree makes the caller hear, with where it is first used."""
    used: dict[str, str] = {}
    for node in menu.nodes.values():
        where = f"nodes.{node.id}"
        keys = [(f"{where}.{f}" if f else where, k) for f, k in spoken_pieces(node)] \
            if node.spoken_options else [(f"{where}.prompt", node.prompt)]
        keys += [(f"{where}.{name}", getattr(node, name)) for name in ("invalid", "no_input")]
        for at, key in keys:
            if isinstance(key, str) and key:
                used.setdefault(key, at)
    for key in FLOW_PROMPTS:
        used.setdefault(key, "(flow)")
    return used


def _texts(old: Menu, new: Menu, old_texts: Texts, new_texts: Texts) -> Iterator[Change]:
    """The prompts both trees use whose words differ, one change per language."""
    before = used_prompts(old)
    for key, where in used_prompts(new).items():
        if key not in before:
            continue
        for lang in sorted(old_texts.keys() | new_texts.keys()):
            a, b = old_texts.get(lang, {}).get(key), new_texts.get(lang, {}).get(key)
            if a != b:
                yield Change(What.PROMPT_TEXT, f"prompt '{key}' ({where})", _quoted(a),
                             _quoted(b), lang=lang)


def diff(old: Menu, new: Menu, old_texts: Texts | None = None,
         new_texts: Texts | None = None) -> list[Change]:
    """Every change from ``old`` to ``new``: the tree's settings, then node by node in the
    new file's order (removed nodes last), then the words of the prompts both use."""
    changes = [Change(What.SETTING, f"settings.{name}" if name in old.settings or name in
                      new.settings else name, _shown(getattr(old, name)), _shown(getattr(new, name)))
               for name in TREE_SETTINGS if getattr(old, name) != getattr(new, name)]
    for node_id, node in new.nodes.items():
        if node_id in old.nodes:
            changes += _node(node_id, old.nodes[node_id], node)
        else:
            changes.append(Change(What.NODE_ADDED, f"nodes.{node_id}", after=node.kind.value))
    changes += [Change(What.NODE_REMOVED, f"nodes.{node_id}", before=node.kind.value)
                for node_id, node in old.nodes.items() if node_id not in new.nodes]
    if old_texts is not None or new_texts is not None:
        changes += _texts(old, new, old_texts or {}, new_texts or {})
    return changes
