"""User text made inert for Slack: the one escape every Slack message runs user text through.

Block Kit builders (handlers) and the DM notices (notifications) both post user text to
Slack; it lives in ``pricing``, the pure leaf both may import, next to ``pricing.formats``.
"""

from __future__ import annotations

import re

# Slack renders <!here>, <@U…> and <http://…|…> as mentions and links; &, < and > are the
# three characters Slack asks to be escaped so user text can never form one.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# A plain "@here" is harmless unless a client posts with link_names; a zero-width
# space keeps it from ever becoming a broadcast.
_BROADCAST = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)


def escape(text: str) -> str:
    """User text made inert for mrkdwn and plain_text fields."""
    return _BROADCAST.sub("@\u200b", text.translate(_ESCAPES))


def typed(raw: object) -> str:
    """What the person typed: Slack delivers message and slash-command text with &, < and >
    escaped (``&amp;``, ``&lt;``, ``&gt;``), and stored text must be what they see."""
    text = str(raw or "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
