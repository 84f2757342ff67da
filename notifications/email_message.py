"""Build the MIME message for one e-mail delivery, with every header value checked."""

from __future__ import annotations

import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from notifications.render import Rendered

# Conservative on purpose: addresses come from our own broker table, so anything unusual
# (a line break above all) is a sign of tampering, not of an exotic but valid address.
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+")
_MESSAGE_ID = re.compile(r"<[^\s<>@]+@[^\s<>@]+>")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
SENDER_NAME = "tenderbot"


class UnsafeHeader(ValueError):
    """A value would break out of its header line or is not a usable address."""


def checked_address(value: str) -> str:
    if len(value) > 320 or not _ADDRESS.fullmatch(value):
        raise UnsafeHeader(f"not a usable e-mail address: {value!r}")
    return value


def checked_header(name: str, value: str) -> str:
    if _HEADER_UNSAFE.search(value):
        raise UnsafeHeader(f"{name} contains a line break or control character: {value!r}")
    return value


def build_email(
    rendered: Rendered, *, sender: str, recipient: str, message_id: str, date: datetime
) -> EmailMessage:
    """multipart/alternative (plain text first, HTML preferred) with the row's Message-ID."""
    if not _MESSAGE_ID.fullmatch(message_id):
        raise UnsafeHeader(f"not a Message-ID: {message_id!r}")
    message = EmailMessage()
    message["Subject"] = checked_header("Subject", rendered.subject)
    message["From"] = Address(display_name=SENDER_NAME, addr_spec=checked_address(sender))
    message["To"] = checked_address(recipient)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    # RFC 3834: auto-responders must not answer a system e-mail.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "de"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
