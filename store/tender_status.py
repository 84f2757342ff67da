"""The states a tender moves through (rules T8, T9) and which of them end it.

Codes only: the builders in ``handlers/blocks`` say them in German.
"""

from __future__ import annotations

OPEN = "open"
SELECTED = "selected"
NO_OFFERS = "no_offers"
CLOSED = "closed"
FINISHED = frozenset({SELECTED, NO_OFFERS, CLOSED})
