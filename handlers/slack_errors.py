"""Whether another attempt can help a failed Slack call: the queue's ``TransportError``.

Slack answers a failure three ways: an HTTP 429 with ``Retry-After``, an HTTP 5xx, or HTTP
200 with ``{"ok": false, "error": …}``. The SDK's retry handlers wait out the first two a
few times inside the call; an ``ok: false`` reaches us at once. Some of those codes are
Slack's own trouble (``internal_error``, ``fatal_error``, ``ratelimited`` …) and pass; the
rest (``channel_not_found``, ``is_archived``, ``invalid_blocks`` …) will be the same on
every retry and are dead-lettered with their code.
"""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from store.queue import TransportError

TRANSIENT_ERRORS = frozenset(
    {
        "internal_error",
        "fatal_error",
        "ratelimited",
        "rate_limited",
        "service_unavailable",
        "request_timeout",
        "team_is_restricted",
        "accesslimited",
    }
)
# Transport failures of the HTTP client itself (connection refused, reset, timeout).
NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


def _retry_after(error: SlackApiError) -> timedelta | None:
    headers = getattr(error.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return timedelta(seconds=float(value)) if value is not None else None
    except ValueError:
        return None


def transport_error(method: str, error: BaseException) -> TransportError:
    """The queue's view of a failed Slack call ``method``."""
    if isinstance(error, SlackApiError):
        status = int(getattr(error.response, "status_code", 200) or 200)
        code = str(error.response.get("error") or "error")
        message = f"slack {method} {status}: {code}"
        if status == 429 or code in ("ratelimited", "rate_limited"):
            return TransportError(message, retry_after=_retry_after(error))
        if status >= 500 or code in TRANSIENT_ERRORS:
            return TransportError(message)
        return TransportError(message, permanent=True)
    if isinstance(error, (SlackClientError, *NETWORK_ERRORS)):
        return TransportError(f"slack {method} unreachable: {type(error).__name__}: {error}")
    return TransportError(f"slack {method}: unexpected {type(error).__name__}: {error}")


def is_slack_failure(error: BaseException) -> bool:
    return isinstance(error, (SlackClientError, *NETWORK_ERRORS))
