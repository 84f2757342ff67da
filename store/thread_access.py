"""Who may write in which tender thread (rules M2, M3, M5): a refusal code, never a text."""

from __future__ import annotations

from store.actors import Actor

# The handlers' builders say each of these in German.
BACKOFFICE_THREAD_ONLY = "backoffice_thread_only"
NOT_YOUR_THREAD = "not_your_thread"
BACKOFFICE_IN_BROKER_THREAD = "backoffice_in_broker_thread"


def thread_refusal(actor: Actor, side: str, tender_broker_id: int) -> str | None:
    """The backoffice writes under its card, the owning broker under theirs; no one else.

    ``side`` is the card whose thread was written in; None when the actor may write there.
    """
    if side == "backoffice":
        return None if actor.is_backoffice else BACKOFFICE_THREAD_ONLY
    if actor.is_backoffice:
        return BACKOFFICE_IN_BROKER_THREAD
    if actor.broker_id != tender_broker_id:
        return NOT_YOUR_THREAD
    return None
