"""What the writer of a refused thread message reads: the store's codes said in German."""

from __future__ import annotations

from store.errors import DomainError, TenderClosed
from store.mirroring import Refused
from store.thread_access import (
    BACKOFFICE_IN_BROKER_THREAD,
    BACKOFFICE_THREAD_ONLY,
    NOT_YOUR_THREAD,
)

REFUSALS = {
    BACKOFFICE_THREAD_ONLY: (
        "In diesem Thread schreibt nur das Backoffice. Ihre Nachricht wurde nicht gespeichert "
        "und nicht weitergeleitet."
    ),
    NOT_YOUR_THREAD: (
        "Dieser Thread gehört nicht zu Ihren Ausschreibungen. Ihre Nachricht wurde nicht "
        "gespeichert und nicht weitergeleitet."
    ),
    BACKOFFICE_IN_BROKER_THREAD: (
        "Dies ist der Thread des Vermittlers. Bitte schreiben Sie Rückfragen im Thread der "
        "Ausschreibung im Backoffice-Kanal; Ihre Nachricht wurde nicht weitergeleitet."
    ),
}
# Should a code come without a text of its own, the writer still learns nothing was sent.
NOT_FORWARDED = "Ihre Nachricht wurde nicht gespeichert und nicht weitergeleitet."


def refusal_text(refused: Refused) -> str:
    """Plain text (not yet escaped for Slack)."""
    if refused.code in REFUSALS:
        return REFUSALS[refused.code]
    if refused.error is not None:
        # The conversation's own refusals (M2, a closed tender, a refused file) carry the
        # reference or the file's name in their text.
        return refused.error.message_de
    return NOT_FORWARDED


def said_in_thread(refused: Refused) -> bool:
    """Rule M4: a closed tender's thread stays readable, and whoever writes there learns
    where to turn in the thread itself; every other refusal only the writer sees."""
    return refused.code == TenderClosed.code


def file_refusal(error: DomainError | Exception) -> str:
    """A file that was refused (InvalidInput) or that Slack would not hand over."""
    text = getattr(error, "message_de", None)
    return str(text) if text else NOT_FORWARDED
