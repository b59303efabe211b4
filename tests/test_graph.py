"""`ivr graph`: the SVG names every node, the PNG is one, the Mermaid text holds together,
and with call numbers the edges carry their shares and a node callers leave is shaded."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from programs import needs_dot

from ivr.cli import cli
from ivr.flow import prompts
from ivr.menu import Menu, load, load_validated
from ivr.menu.loader import DEFAULT_MENU, parse
from ivr.menu.model import speech_targets, takes_speech
from ivr.tuning import graph

SVG = "{http://www.w3.org/2000/svg}"
WHITE = "#ffffff"


@pytest.fixture(name="shipped")
def _shipped() -> Menu:
    return load_validated(None, prompts.load())


def tree_edges(menu: Menu) -> set[tuple[str, str, str]]:
    """Every edge the tree has: (tail, field, head)."""
    return {(n.id, field, head) for n in menu.nodes.values() for field, head in menu.targets(n)}


def speech_jumps(menu: Menu) -> set[tuple[str, str]]:
    """(speech menu, node a caller may ask for there that is none of its options')."""
    return {(n.id, target) for n in menu.nodes.values() if takes_speech(menu, n)
            for target in speech_targets(menu, n)
            if target not in {o.goto for o in n.options} and menu.nodes[target].phrases}


# -- a structural reading of the Mermaid text --------------------------------------------

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_SHAPES = [(r"\(\(", r"\)\)"), (r"\(\[", r"\]\)"), (r"\[\(", r"\)\]"), (r"\[\[", r"\]\]"),
           (r"\[/", r"/\]"), (r"\[\\", r"\\\]"), (r"\{\{", r"\}\}"), (r"\[", r"\]"),
           (r"\(", r"\)")]
_NODE = re.compile(rf"({_ID})(?:" + "|".join(f'{o}"([^"]*)"{c}' for o, c in _SHAPES) + ")")
_EDGE = re.compile(rf'({_ID}) (-->|-\.->|==>)\|"([^"]*)"\| ({_ID})')
_OTHER = re.compile(rf"%%.*|classDef {_ID} \S+|class {_ID} {_ID}|style {_ID} \S+"
                    r"|linkStyle \d+ \S+")
_RESERVED = {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef",
             "linkstyle", "click", "call", "href", "direction", "default"}


def read_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]], list[str]]:
    """(label by node id, edges (tail, label, head), link styles): every line must be the
    header, a node declared once with a valid id and a quoted label, an edge between
    declared nodes, or a comment or style line."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    styles: list[str] = []
    for line in (raw.strip() for raw in lines[1:]):
        if (edge := _EDGE.fullmatch(line)) is not None:
            tail, _, label, head = edge.groups()
            assert tail in nodes and head in nodes, line  # declared before use
            edges.append((tail, label, head))
        elif (node := _NODE.fullmatch(line)) is not None:
            node_id = node.group(1)
            assert node_id not in nodes, f"declared twice: {line}"
            assert node_id.lower() not in _RESERVED, line
            nodes[node_id] = next(g for g in node.groups()[1:] if g is not None)
        else:
            assert _OTHER.fullmatch(line), f"not Mermaid flowchart syntax: {line!r}"
            styles.append(line)
    for label in [*nodes.values(), *(label for _, label, _ in edges)]:
        # whatever the text held, only entity codes and <br/> are markup in a label
        assert not re.search(r"[<>|`]", label.replace("<br/>", "")), label
        assert not re.search(r"#(?!\d+;)", label), label
    return nodes, edges, styles


def unescaped(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label).replace("<br/>", "\n")


# -- the shipped tree ----------------------------------------------------------------------

def svg_texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@needs_dot
def test_the_svg_parses_and_names_every_node(shipped: Menu, tmp_path: Path) -> None:
    path = graph.write(shipped, tmp_path / "tree.svg")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    texts = svg_texts(root)
    assert set(shipped.nodes) <= set(texts)
    for kind in ("menu", "verify", "queue: payments"):  # the kinds, and the legend
        assert any(t.startswith(kind) for t in texts), kind
    titles = {t.text for g in root.iter(f"{SVG}g") if g.get("class") == "node"
              for t in g.iter(f"{SVG}title")}
    assert set(shipped.nodes) <= titles  # the node ids name the SVG's nodes too


@needs_dot
def test_svg_for_the_html_report_is_an_inline_element(shipped: Menu) -> None:
    text = graph.svg(shipped)
    assert text.startswith("<svg") and "<?xml" not in text and "DOCTYPE" not in text
    assert set(shipped.nodes) <= set(svg_texts(ET.fromstring(text)))


@needs_dot
def test_the_png_is_a_png(shipped: Menu, tmp_path: Path) -> None:
    data = graph.write(shipped, tmp_path / "tree.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 500 and height > 300


def test_the_dot_source_has_every_node_and_edge_style(shipped: Menu, tmp_path: Path) -> None:
    source = graph.write(shipped, tmp_path / "tree.dot").read_text("utf-8")
    assert source.startswith("digraph")
    for node_id in shipped.nodes:
        assert re.search(rf"^\s*{node_id} \[", source, re.M), node_id
    assert "style=dashed" in source and "style=dotted" in source


def test_the_mermaid_text_holds_every_node_and_edge(shipped: Menu, tmp_path: Path) -> None:
    text = graph.write(shipped, tmp_path / "tree.mmd").read_text("utf-8")
    nodes, edges, _ = read_mermaid(text)
    assert set(nodes) == set(shipped.nodes)  # the shipped ids are valid Mermaid ids as they are
    drawn = {(tail, head) for tail, _, head in edges}
    jumps = speech_jumps(shipped)
    assert {(tail, head) for tail, _, head in tree_edges(shipped)} | jumps == drawn
    # one per edge, parallel ones included, and a speech menu's jumps past its sub-menus
    assert len(edges) == len(tree_edges(shipped)) + len(jumps)
    assert len(jumps) == 12 and {tail for tail, _ in jumps} == {"main"}
    labels = {unescaped(label) for _, label, _ in edges}
    for node in shipped.nodes.values():
        for option in node.options:
            assert any(lab.startswith(f"{option.key}: ") or lab == option.key for lab in labels)
    assert unescaped(nodes["payments_queue"]) == "payments_queue\nqueue: payments"


def test_lang_labels_options_with_their_phrases(shipped: Menu) -> None:
    catalog = prompts.load()
    for lang in catalog.languages:
        _, edges, _ = read_mermaid(graph.mermaid(shipped, lang=lang, catalog=catalog))
        labels = [unescaped(label) for _, label, _ in edges]
        for node in shipped.nodes.values():
            for option in node.options:
                text = (catalog.text(lang, option.say).rstrip(" ,;:，、；：")
                        if option.say else option.label)
                assert f"{option.key}: {text}" in labels, (lang, node.id, option.key)


# -- labels and ids Mermaid and Graphviz cannot take as they are ---------------------------

AWKWARD = """
start: end
main: end
fallback: "q:1"
queues: [general]
nodes:
  end:
    kind: menu
    prompt: p
    options:
      "1": {goto: "q:1", label: 'the "fast" [lane] | (a) {b} <c> #1 & `d` \\N'}
      "2": {goto: 退款-队列, label: 退款（原路返回）}
    invalid: p
    no_input: {goto: "q:1"}
  "q:1":
    kind: queue
    queue: general
    prompt: p
  退款-队列:
    kind: hangup
    prompt: p
"""


@pytest.fixture(name="awkward")
def _awkward() -> Menu:
    menu, problems = parse(AWKWARD, "awkward.yaml")
    assert not problems
    return menu


def test_mermaid_escapes_quotes_brackets_pipes_and_keeps_chinese(awkward: Menu) -> None:
    text = graph.mermaid(awkward)
    nodes, edges, _ = read_mermaid(text)
    assert len(nodes) == 3 and "end" not in nodes  # a word Mermaid keeps for itself
    by_label = {unescaped(label).split("\n")[0]: node_id for node_id, label in nodes.items()}
    assert set(by_label) == {"end", "q:1", "退款-队列"}
    labels = {(tail, unescaped(label), head) for tail, label, head in edges}
    start, queue, refunds = by_label["end"], by_label["q:1"], by_label["退款-队列"]
    assert labels == {(start, '1: the "fast" [lane] | (a) {b} <c> #1 & `d` \\N', queue),
                      (start, "2: 退款（原路返回）", refunds), (start, "no input", queue)}
    assert "退款（原路返回）" in text  # written as it is, not as entity codes


@needs_dot
def test_graphviz_draws_ids_with_colons_and_chinese(awkward: Menu) -> None:
    root = ET.fromstring(graph.svg(awkward, lang=None))
    texts = svg_texts(root)
    assert {"end", "q:1", "退款-队列"} <= set(texts)
    assert any("the \"fast\" [lane]" in t for t in texts)
    assert any(t.endswith("\\N") for t in texts)  # a backslash, not the node's name
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]) == 4  # + entry


# -- with what callers did -----------------------------------------------------------------

def hand_made(menu: Menu) -> dict[str, Any]:
    nodes = {node_id: {"entered": 0, "options": {}, "hangups": 0} for node_id in menu.nodes}
    nodes["main"] = {"entered": 10, "options": {"1": 4, "2": 1, "4": 5}, "hangups": 0}
    nodes["complaints_menu"] = {"entered": 5, "options": {"1": 1}, "hangups": 4}
    return {"calls": 10, "nodes": nodes}


def svg_nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {g.findtext(f"{SVG}title") or "": g for g in root.iter(f"{SVG}g")
            if g.get("class") == "node"}


def fill(group: ET.Element) -> str:
    shape = next(e for e in group.iter() if e.tag.split("}")[1] in ("polygon", "ellipse"))
    return shape.get("fill", "")


@needs_dot
def test_stats_put_shares_on_edges_and_shade_where_callers_hang_up(shipped: Menu) -> None:
    root = ET.fromstring(graph.svg(shipped, lang=None, stats=hand_made(shipped)))
    texts = svg_texts(root)
    assert "40.0 % (4)" in texts and "50.0 % (5)" in texts and "0.0 % (0)" in texts
    nodes = svg_nodes(root)
    assert fill(nodes["complaints_menu"]) == graph._shade(0.8) != WHITE
    assert fill(nodes["main"]) == WHITE
    assert "5 in · 80.0 % hung up" in texts and "not entered" in texts
    edges = {g.findtext(f"{SVG}title"): g for g in root.iter(f"{SVG}g")
             if g.get("class") == "edge"}
    widths = {title: float(path.get("stroke-width", "1")) for title, g in edges.items()
              for path in g.iter(f"{SVG}path")}
    assert widths["main->complaints_menu"] > widths["main->payments_menu"] > \
        widths["main->account_menu"] > widths["main->fraud_identify"] == 1


def test_stats_in_mermaid_are_labels_link_widths_and_fills(shipped: Menu) -> None:
    nodes, edges, styles = read_mermaid(graph.mermaid(shipped, stats=hand_made(shipped)))
    labels = {(tail, head): unescaped(label) for tail, label, head in edges}
    assert labels[("main", "complaints_menu")] == "4: complaints\n50.0 % (5)"
    assert f"style complaints_menu fill:{graph._shade(0.8)},stroke:#9ecae1,stroke-width:3px" \
        in styles
    widths = [line for line in styles if line.startswith("linkStyle")]
    # only where calls entered: a share of nothing is no share (main's speech jumps: 0 %)
    assert len(widths) == len(shipped["main"].options) + len(shipped["complaints_menu"].options) \
        + len(speech_jumps(shipped))
    assert labels[("payments_menu", "topup_status")] == "1: top-up failed or money not arrived"
    assert "5 in · 80.0 % hung up" in unescaped(nodes["complaints_menu"])


@needs_dot
def test_stats_from_calls_through_the_app(app: Any, caller: Any, shipped: Menu,
                                          settings: dict[str, Any], tmp_path: Path) -> None:
    from ivr.tuning.report import build

    for keys in (("2", "4"), ("2", "4"), ("2", "1"), ("2", "4", "1")):
        call = caller()
        call.start()
        call.keys(*keys)
        call.send("/voice/status", CallStatus="completed", CallDuration="30")
    stats = build(settings["DATABASE"], menus=[shipped])
    assert stats["calls"] == 4 and stats["nodes"]["main"]["entered"] == 4
    nodes, edges, styles = read_mermaid(graph.mermaid(shipped, stats=stats))
    labels = {(tail, head): unescaped(label) for tail, label, head in edges}
    assert labels[("main", "complaints_menu")] == "4: complaints\n75.0 % (3)"
    assert labels[("main", "payments_menu")].endswith("\n25.0 % (1)")
    assert labels[("complaints_menu", "complaint_prepare")].endswith("\n33.3 % (1)")
    assert f"style complaints_menu fill:{graph._shade(2 / 3)}," in " ".join(styles)
    assert unescaped(nodes["complaints_menu"]).endswith("3 in · 66.7 % hung up")
    # and from the command, on the same file
    out = tmp_path / "tree.svg"
    result = CliRunner().invoke(cli, ["graph", "--db", settings["DATABASE"], "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out}: 39 nodes of wallet.yaml, 4 calls from " \
                            f"{settings['DATABASE']}\n"
    assert "75.0 % (3)" in svg_texts(ET.parse(out).getroot())


def test_a_speech_menu_jumps_to_the_deeper_nodes_callers_may_ask_for(shipped: Menu,
                                                                     tmp_path: Path) -> None:
    _, edges, _ = read_mermaid(graph.mermaid(shipped, lang="en-US"))
    said = {(tail, head): unescaped(label) for tail, label, head in edges
            if label.startswith("say: ")}
    assert said[("main", "topup_status")] == "say: top up"  # its first phrase, as spoken
    assert said[("main", "complaint_ticket")] == "say: complaint status"
    assert ("main", "payments_menu") not in said  # an option's own node: its option's arrow
    assert set(said) == speech_jumps(shipped)
    _, edges, _ = read_mermaid(graph.mermaid(shipped, lang="zh-CN"))
    assert ("main", "say: 投诉进度", "complaint_ticket") in edges  # keywords joined as said
    mermaid = graph.mermaid(shipped)
    assert 'main ==>|"say: ' in mermaid and "payments_menu ==>" not in mermaid  # keys only
    source = graph.write(shipped, tmp_path / "tree.dot").read_text("utf-8")
    jump = next(line for line in source.splitlines() if "main -> topup_status" in line)
    assert graph.SPEECH_COLOUR in jump and "constraint=false" in jump  # the ranks stay
    assert "blue: said at a speech menu" in source


def test_stats_put_speech_routes_on_the_jumps(app: Any, caller: Any, shipped: Menu,
                                              settings: dict[str, Any]) -> None:
    from ivr.tuning.report import build

    for spoken in ("my top up has not arrived", "my top up has not arrived",
                   "I want to check my complaint status", None):
        call = caller()
        call.start()
        call.press("2")  # English
        if spoken:
            call.say(spoken)
        else:
            call.press("1")  # by key, to the payments menu
        call.send("/voice/status", CallStatus="completed", CallDuration="30")
    stats = build(settings["DATABASE"], menus=[shipped])
    _, edges, _ = read_mermaid(graph.mermaid(shipped, lang="en-US", stats=stats))
    labels = {(tail, head): unescaped(label) for tail, label, head in edges}
    assert labels[("main", "topup_status")] == "say: top up\n50.0 % (2)"
    assert labels[("main", "complaint_ticket")] == "say: complaint status\n25.0 % (1)"
    assert labels[("main", "refund_prepare")] == "say: refund\n0.0 % (0)"
    assert labels[("main", "payments_menu")].endswith("\n25.0 % (1)")  # the key's own share


# -- without dot, and the command's errors -------------------------------------------------

def test_without_dot_svg_and_png_say_what_to_install(shipped: Menu, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for name in ("tree.svg", "tree.png"):
        with pytest.raises(graph.GraphError, match="apt-get install graphviz"):
            graph.write(shipped, tmp_path / name)
    assert graph.write(shipped, tmp_path / "tree.dot").stat().st_size > 0
    assert graph.write(shipped, tmp_path / "tree.mmd").stat().st_size > 0
    result = CliRunner().invoke(cli, ["graph", "-o", str(tmp_path / "t.svg")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: drawing .svg or .png needs Graphviz's dot program, which is not on PATH: "
        "apt-get install graphviz (.dot and .mmd need no program)"]


@pytest.mark.parametrize("suffix", [pytest.param(s, marks=needs_dot if s in (".svg", ".png") else ())
                                    for s in graph.SUFFIXES])
def test_the_command_writes_each_kind_and_says_so(suffix: str, tmp_path: Path,
                                                  workdir: Path) -> None:
    out = tmp_path / f"tree{suffix}"
    result = CliRunner().invoke(cli, ["graph", "--lang", "en-US", "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out}: 39 nodes of wallet.yaml\n"
    assert out.stat().st_size > 1000


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["graph", *args])
    return result.exit_code, result.output


def test_an_unknown_suffix_is_refused(tmp_path: Path) -> None:
    code, output = run("-o", str(tmp_path / "tree.jpg"))
    assert code == 2
    assert "the name must end in .svg, .png, .dot or .mmd" in output
    assert not (tmp_path / "tree.jpg").exists()
    with pytest.raises(graph.GraphError, match="must end in"):
        graph.write(load()[0], tmp_path / "tree.gif")


def test_an_invalid_tree_gives_every_problem_with_its_place(tmp_path: Path) -> None:
    text = DEFAULT_MENU.read_text("utf-8")
    text = text.replace('"4": {goto: refund_prepare', '"4": {goto: refunds_prepare')
    text = text.replace("queue: complaints\n", "queue: complaint\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, "utf-8")
    code, output = run("--menu", str(bad), "-o", str(tmp_path / "tree.mmd"))
    assert code == 1
    assert "nodes.payments_menu.options['4']: goto 'refunds_prepare' is not a defined node" \
        in output
    assert "nodes.complaints_queue.queue: unknown queue 'complaint'" in output
    assert re.search(r"bad\.yaml:\d+ nodes\.payments_menu", output)  # file and line
    assert not (tmp_path / "tree.mmd").exists()


def test_database_and_language_mistakes_are_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "tree.mmd")
    code, output = run("--db", str(tmp_path / "missing.db"), "-o", out)
    assert code == 2 and "missing.db" in output and "does not exist" in output
    notes = tmp_path / "notes.db"
    notes.write_text("not a database")
    code, output = run("--db", str(notes), "-o", out)
    assert code == 2 and "is not a SQLite database" in output
    code, output = run("--lang", "fr-FR", "-o", out)
    assert code == 2 and "'fr-FR' is not a language of the catalog (en-US, zh-CN)" in output
    code, output = run("--menu", str(tmp_path / "nope.yaml"), "-o", out)
    assert code == 2 and "nope.yaml" in output
    code, output = run()
    assert code == 2 and "Missing option '-o'" in output
    assert not Path(out).exists()
