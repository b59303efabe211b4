"""``ivr audio report``: how long each prompt really is, longest first.

Callers pay for every second of menu and forget the first option of a long one, so a
*menu prompt* over ``MENU_LIMIT_S`` is flagged. A menu prompt is the ``prompt`` of a
``kind: menu`` node of the tree, or any key ending in ``_menu`` (so the rule still holds
for a prompt the tree does not use yet). A menu spoken from its options' phrases is
measured as the caller hears it: the sum of its pieces (``spoken_pieces``), one row
``<node> (spoken)`` per language; a menu that takes speech counts its invitation to speak
(``speech_intro``) too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.audio.manifest import Manifest, static_prompts, text_sha256
from ivr.flow.prompts import Catalog
from ivr.menu.loader import load as load_menu
from ivr.menu.model import Kind, spoken_pieces, takes_speech

MENU_LIMIT_S = 20.0


def menu_prompt_keys(menu_path: Path | str | None = None) -> frozenset[str]:
    """The prompt keys of the tree's ``menu`` nodes (empty if the tree cannot be read)."""
    menu, _ = load_menu(menu_path)
    return frozenset(n.prompt for n in menu.nodes.values() if n.kind is Kind.MENU and n.prompt)


def spoken_menus(menu_path: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """The tree's menus heard as more than one prompt: node id -> the prompt keys heard,
    in order. A menu spoken from its options' phrases is its pieces; a menu that takes
    speech starts with the invitation to speak (``speech_intro``), as a caller whose
    language has a recogniser hears it. Empty if the tree cannot be read."""
    menu, _ = load_menu(menu_path)
    heard: dict[str, tuple[str, ...]] = {}
    for node in menu.nodes.values():
        if node.kind is not Kind.MENU:
            continue
        listens = takes_speech(menu, node)
        if not (node.spoken_options or listens):
            continue  # one prompt of its own: measured as it is
        keys = tuple(key for _, key in spoken_pieces(node)) if node.spoken_options else \
            ((node.prompt,) if node.prompt else ())
        heard[node.id] = ("speech_intro", *keys) if listens else keys
    return heard


def is_menu_prompt(key: str, menu_keys: frozenset[str]) -> bool:
    return key in menu_keys or key.endswith("_menu")


@dataclass(frozen=True, slots=True)
class Row:
    """One static prompt: its measured length, or why it has none."""

    lang: str
    key: str
    duration_ms: int | None
    menu: bool
    status: str  # "ok", "missing" or "stale"
    limit_s: float = MENU_LIMIT_S
    #: for a spoken menu's row, how many prompts it adds up (0 for a prompt of its own)
    pieces: int = 0

    @property
    def too_long(self) -> bool:
        return self.menu and self.duration_ms is not None and self.duration_ms > self.limit_s * 1000


def report(catalog: Catalog, manifest: Manifest, menu_keys: frozenset[str] = frozenset(),
           limit_s: float = MENU_LIMIT_S,
           spoken: Mapping[str, Sequence[str]] | None = None) -> list[Row]:
    """Every static prompt, and every spoken menu (``spoken_menus``) as the sum of its
    pieces, longest first; rows without fresh audio last."""
    rows: list[Row] = []
    for lang, texts in static_prompts(catalog).items():
        measured: dict[str, Row] = {}
        for key, text in texts.items():
            entry = manifest.entry(lang, key)
            status = ("missing" if entry is None
                      else "stale" if entry.text_sha256 != text_sha256(text) else "ok")
            measured[key] = Row(lang, key, entry.duration_ms if entry and status == "ok"
                                else None, is_menu_prompt(key, menu_keys), status, limit_s)
        rows += measured.values()
        for node_id, keys in (spoken or {}).items():
            parts = [measured.get(key) for key in keys]
            status = next((p.status if p else "missing" for p in parts
                           if p is None or p.status != "ok"), "ok")
            total = sum(p.duration_ms or 0 for p in parts if p) if status == "ok" else None
            rows.append(Row(lang, f"{node_id} (spoken)", total, True, status, limit_s,
                            pieces=len(keys)))
    return sorted(rows, key=lambda r: (r.duration_ms is None, -(r.duration_ms or 0),
                                       r.lang, r.key))
