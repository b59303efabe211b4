"""The menu tree: a data file ops edit, loaded and validated before any call is answered."""

from ivr.menu.loader import load, load_validated
from ivr.menu.model import Menu, Node, Option
from ivr.menu.validate import summary, validate

__all__ = ["Menu", "Node", "Option", "load", "load_validated", "summary", "validate"]
