"""Which notices can be answered by e-mail, and the Reply-To address they then carry.

Notices that invite an answer (N2 queries, N1 offers, T10 reminders) carry
``antwort+<token>@<TENDERBOT_REPLY_DOMAIN>``; ``tenderbot mail-in`` takes the answer into the
tender's conversation. Without a reply domain nothing changes: no Reply-To, and the footer
says answers are not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store.reply_tokens import ReplyTokens, reply_address

# rule N2 (query), N1 (offer_available), T10 (offer_expiring)
ANSWERABLE_TEMPLATES = frozenset({"query", "offer_available", "offer_expiring"})


@dataclass(frozen=True)
class ReplyAddresses:
    domain: str
    tokens: ReplyTokens

    def address_for(self, template: str, recipient: str, context: Mapping[str, Any]) -> str | None:
        """The Reply-To of one e-mail, or None for a notice that invites no answer."""
        if template not in ANSWERABLE_TEMPLATES:
            return None
        reference = context.get("reference")
        if not isinstance(reference, str):
            return None
        try:
            token = self.tokens.issue(reference, recipient)
        except ValueError:
            return None
        return reply_address(token, self.domain)


def replies_of(notifier: object) -> ReplyAddresses | None:
    """The reply addresses an e-mail notifier was built with, if any."""
    replies = getattr(notifier, "replies", None)
    return replies if isinstance(replies, ReplyAddresses) else None
