"""System programs some tests need, looked for once: without one, the tests that need it
skip with one line naming the Debian package (as the browser and PostgreSQL tests do),
so ``pip install -e '.[test]' && python -m pytest`` passes on a machine with only Python.
.ci/run installs them and runs these tests; ffmpeg and sox are needed by no test.

    @needs_espeak            # on a test (or pytest.param(..., marks=needs_dot))
"""

from __future__ import annotations

import shutil

import pytest

#: program -> (the Debian package that has it, which tests need it)
PROGRAMS: dict[str, tuple[str, str]] = {
    "espeak-ng": ("espeak-ng", "the prompt-audio tests need it"),
    "dot": ("graphviz", "the tree-picture tests need it"),
}


def missing(program: str) -> str | None:
    """Why the tests that need ``program`` cannot run here (None when they can)."""
    if shutil.which(program) is not None:
        return None
    package, who = PROGRAMS[program]
    return f"{program} not installed: apt-get install {package} ({who})"


def _needs(program: str) -> pytest.MarkDecorator:
    why = missing(program)
    return pytest.mark.skipif(why is not None, reason=why or "")


#: ivr.audio.engine.EspeakEngine runs the espeak-ng binary
needs_espeak = _needs("espeak-ng")
#: graphviz (the Python package) runs Graphviz's dot for .svg and .png
needs_dot = _needs("dot")


def tree_picture() -> str:
    """What a page with the tree's picture holds: the SVG Graphviz drew, or without dot the
    line saying which package draws it."""
    return "<svg" if missing("dot") is None else "apt-get install graphviz"
