"""``ivr menu``: commands about tree files (``ivr menu diff``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ivr.cli.args import TextFile, app_settings, boundary
from ivr.errors import MenuError
from ivr.flow import prompts
from ivr.menu.diff import diff
from ivr.menu.loader import check
from ivr.menu.model import Menu
from ivr.menu.validate import summary
from ivr.plural import counted


@click.group("menu")
def menu_group() -> None:
    """Compare menu trees."""


def _catalog(prompts_dir: Path) -> prompts.Catalog:
    """The catalog in ``prompts_dir``; one that does not load is every problem, exit 2."""
    with boundary([prompts_dir]):
        try:
            return prompts.load(prompts_dir)
        except MenuError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            raise SystemExit(2) from exc


def _tree(path: Path, catalog: prompts.Catalog) -> Menu | None:
    """The tree at ``path``, checked as ``ivr lint`` checks it; None (its problems and
    lint's closing line printed) when it has errors."""
    with boundary([path]):
        menu, problems = check(path, catalog)
    for problem in problems:
        click.echo(str(problem), err=True)
    if any(p.severity == "error" for p in problems):
        click.echo(summary(menu, problems), err=True)
        return None
    return menu


@menu_group.command("diff")
@click.argument("old_path", metavar="A.yaml", type=TextFile())
@click.argument("new_path", metavar="B.yaml", type=TextFile())
@click.option("--prompts", "prompts_dirs", type=TextFile(folder=True), multiple=True,
              help="Prompt catalog folder: once for both trees, or twice (A's, then B's) to "
                   "compare the words too (default: the PROMPTS_DIR setting, IVR_PROMPTS_DIR, "
                   "else the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the changes.")
def diff_command(old_path: Path, new_path: Path, prompts_dirs: tuple[Path, ...],
                 as_json: bool) -> None:
    """What changed from tree A to tree B, in the tree's terms: nodes, options (moved,
    reordered, renumbered), prompts (and their words in each language), settings.

    Exit 0 when nothing changed, 1 when something did (as diff does), 2 when a tree or
    catalog has errors (each printed with its location, as ivr lint prints them)."""
    if len(prompts_dirs) > 2:
        raise click.UsageError("--prompts is given once (both trees) or twice (A's, B's)")
    dirs = prompts_dirs or (Path(app_settings()["PROMPTS_DIR"]),)
    catalogs = [_catalog(d) for d in dict.fromkeys(dirs)]
    old_catalog, new_catalog = catalogs[0], catalogs[-1]
    trees = [_tree(old_path, old_catalog), _tree(new_path, new_catalog)]
    old, new = trees
    if old is None or new is None:
        bad = [str(p) for p, t in zip((old_path, new_path), trees, strict=True) if t is None]
        click.echo(f"cannot compare: {' and '.join(bad)} "
                   f"{'has' if len(bad) == 1 else 'have'} errors", err=True)
        raise SystemExit(2)
    changes = diff(old, new, old_catalog.texts, new_catalog.texts)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in changes], ensure_ascii=False, indent=2))
    else:
        for change in changes:
            click.echo(change.line())
        click.echo(counted(len(changes), "change") if changes else "no changes")
    if changes:
        raise SystemExit(1)  # as diff(1) does, so a script can tell
