"""The house: ``ivr/``'s rooms are what pyproject.toml's import-linter contracts say.

The contracts are checked by import-linter itself (the same check ``.ci/run`` runs as
``lint-imports``); these tests add what a contract cannot say: that every room is in the
layers (a new folder cannot slip past them), that the top floor stays small, and that each
room's ``__init__.py`` says what it holds and what it must not import.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ivr"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]


def _rooms() -> set[str]:
    """ivr's folders (packages) and top-level modules, as the layers name them."""
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    return folders | modules


def _layers() -> list[set[str]]:
    (layers,) = [c for c in CONTRACTS["contracts"] if c["type"] == "layers"]
    return [{name.strip() for name in re.split(r"[|:]", layer)} for layer in layers["layers"]]


def test_the_contracts_hold() -> None:
    # in a process of its own: import-linter configures logging as a command does
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    kinds = {c["type"] for c in CONTRACTS["contracts"]}
    assert {"layers", "forbidden", "independence", "acyclic_siblings"} <= kinds
    assert f"Contracts: {len(CONTRACTS['contracts'])} kept, 0 broken." in out, out


def test_every_room_is_in_exactly_one_layer() -> None:
    named = [name for layer in _layers() for name in layer]
    assert sorted(named) == sorted(set(named)), "a room named in two layers"
    assert set(named) == _rooms(), (
        f"not in the layers: {sorted(_rooms() - set(named))}; "
        f"layers naming no room: {sorted(set(named) - _rooms())}")


def test_the_top_floor_holds_at_most_ten_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 10, top


@pytest.mark.parametrize("room", sorted(p.parent.relative_to(ROOT).as_posix()
                                        for p in PACKAGE.glob("*/__init__.py")))
def test_each_room_says_what_it_holds_and_what_it_must_not_import(room: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / room / "__init__.py").read_text("utf-8")))
    assert doc and len(doc.split()) >= 15, f"{room}/__init__.py: no docstring naming the room"
    assert re.search(r"\bnever\s+imports?\b|\bno\s+room\s+imports\b", doc), (
        f"{room}/__init__.py does not say what the room must not import:\n{doc}")
