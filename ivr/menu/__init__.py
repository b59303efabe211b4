"""The menu tree: a data file ops edit, loaded and validated before any call is answered.

``model`` (the tree's types), ``source`` (YAML read with the line of every value),
``loader`` and ``validate`` (every mistake listed with its file and line), ``phrases``
(how a phrase callers may say is heard), ``diff`` and ``version`` (two trees compared,
the A/B split). Pure data: it never imports the flow, the records or anything with a
network or a database, only the shared helpers at the top of ``ivr`` (errors, plural).
"""

from ivr.menu.loader import load, load_validated
from ivr.menu.model import Menu, Node, Option
from ivr.menu.validate import summary, validate

__all__ = ["Menu", "Node", "Option", "load", "load_validated", "summary", "validate"]
