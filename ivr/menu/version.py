"""The version of a tree a call runs on: a short hash of the tree file and its prompts.

Recorded on every call, so ``ivr report`` can split calls by what they heard, and an A/B
trial (``MENU_B``) can be compared with the tree it would replace.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ivr.menu.loader import DEFAULT_MENU


def tree_version(path: Path | str | None, texts: dict[str, dict[str, str]] | Any) -> str:
    """Ten hex digits of SHA-256 over the tree file's bytes and every prompt text: a change
    to either is a new version, the same files on any host are the same version."""
    digest = hashlib.sha256(Path(path or DEFAULT_MENU).read_bytes())
    digest.update(json.dumps(texts, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:10]


def takes_b(call_sid: str, share: float) -> bool:
    """Whether a call runs on the B tree of a trial giving it ``share`` of calls: decided by
    the CallSid alone, so every step of the call, on any host, lands on the same tree."""
    if share <= 0:
        return False
    point = int.from_bytes(hashlib.sha256(call_sid.encode()).digest()[:8], "big") / 2**64
    return point < share
