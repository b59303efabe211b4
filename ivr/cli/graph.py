"""``ivr graph``: the menu tree as a picture, with what callers did when given ``--db``.

A thin command: it reads the tree, the catalog and (with ``--db``) ``ivr report``'s
numbers, and hands them to ``ivr.tuning.graph``, which draws.
"""

from __future__ import annotations

from pathlib import Path

import click

from ivr.cli.args import Database, OutputFile, TextFile, app_settings, boundary
from ivr.flow import prompts
from ivr.menu import load_validated
from ivr.plural import counted
from ivr.records.database import shown
from ivr.tuning import graph


@click.command("graph")
@click.option("--menu", "menu_file", type=TextFile(),
              help="The tree to draw (default: the MENU setting, IVR_MENU, else the shipped one).")
@click.option("--db", "--database", "database", type=Database(create=False),
              help="Call records (an ivr SQLite file or a postgresql:// URL): edges by the "
                   "share of calls that took them, nodes shaded by the share that hung up "
                   "there.")
@click.option("--lang", help="Label options with their phrase in this catalog language "
                             "(e.g. en-US, zh-CN); default: their labels.")
@click.option("--prompts", "prompts_dir", type=TextFile(folder=True),
              help="Prompt catalog folder (default: the PROMPTS_DIR setting, "
                   "IVR_PROMPTS_DIR, else the shipped one).")
@click.option("-o", "--output", required=True, type=OutputFile(graph.SUFFIXES),
              help="The picture: .svg or .png (need Graphviz's dot), .dot (its source) or "
                   ".mmd (Mermaid text).")
def graph_command(menu_file: Path | None, database: Path | str | None, lang: str | None,
                  prompts_dir: Path | None, output: Path) -> None:
    """Draw the menu tree: nodes by kind, edges by key and label (and by share of calls)."""
    settings = app_settings()  # the tree and the catalog the app would load
    menu_path = menu_file or settings["MENU"]
    prompts_dir = prompts_dir or Path(settings["PROMPTS_DIR"])
    with boundary([menu_path, prompts_dir]):
        catalog = prompts.load(prompts_dir)
        if lang is not None and lang not in catalog.languages:
            raise click.BadParameter(f"{lang!r} is not a language of the catalog "
                                     f"({', '.join(catalog.languages)})", param_hint="--lang")
        menu = load_validated(menu_path, catalog)  # every problem, with its place
        stats = None
        if database is not None:
            from ivr.tuning.report import build

            stats = build(database, menus=[menu])  # its service and queue nodes
        graph.write(menu, output, lang=lang, catalog=catalog, stats=stats)
    calls = f", {counted(stats['calls'], 'call')} from {shown(database or '')}" if stats else ""
    click.echo(f"wrote {output}: {counted(len(menu.nodes), 'node')} of {menu.source}{calls}")
