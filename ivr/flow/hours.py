"""Whether agents answer now, as the tree and the queue model see it: the flow asks before
it asks a caller for any effort. Pure: the model and the moment are passed in.

A queue is ``team_closed`` when its team is away but the fallback queue's agents (the
agents for everything) work, and ``closed`` when no agent answers at all. A choice only
agents can do (``ivr.menu.model.agents_only``: verification, what to have ready and
details keyed on the way to a queue) that ends in such a queue is told so first.
"""

from __future__ import annotations

from datetime import datetime

from ivr.flow import spoken
from ivr.flow.prompts import Catalog
from ivr.flow.services import QueueModel
from ivr.menu.model import Kind, Menu, Node, agents_only, self_services, service_phrase


def shut(menu: Menu, model: QueueModel | None, queue: str, now: datetime) -> str | None:
    """Why ``queue``'s agents do not answer now: ``team_closed`` or ``closed``; None: open
    (or no model to tell)."""
    if model is None or model.is_open(queue, now):
        return None
    fallback = menu.nodes.get(menu.fallback)
    others = fallback.queue if fallback else None
    return "team_closed" if others and others != queue and model.is_open(others, now) \
        else "closed"


def unmanned(menu: Menu, model: QueueModel | None, node_id: str, now: datetime) -> bool:
    """Whether ``node_id`` is a queue no agent answers now ("for an agent, press 0")."""
    node = menu.nodes.get(node_id)
    return node is not None and node.kind is Kind.QUEUE and \
        shut(menu, model, node.queue or "general", now) == "closed"


def closed_ahead(menu: Menu, model: QueueModel | None, node: Node,
                 now: datetime) -> Node | None:
    """The queue node whose team is away that a choice only agents can do ends in: the
    caller hears its hours before verifying or keying any detail for it."""
    if node.kind is Kind.QUEUE:
        return None  # arriving there says it anyway
    queue = agents_only(menu, node.id)
    return queue if queue is not None and shut(menu, model, queue.queue or "general", now) \
        else None


def self_service(catalog: Catalog, lang: str, menu: Menu) -> str | None:
    """What the tree's self-service does, as one list ("hear the status of your recent
    top-ups, …"), for ``closed_self_service``; None when the tree has none."""
    services = [catalog.text(lang, service_phrase(a)) for a in self_services(menu)]
    return spoken.listing(catalog, lang, services) if services else None
