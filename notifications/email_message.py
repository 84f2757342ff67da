"""Build the MIME message for one e-mail delivery, with every header value checked, and
write it as bytes for SMTP."""

from __future__ import annotations

import base64
import binascii
import io
import re
from datetime import datetime
from email.charset import BASE64, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr
from typing import cast

from notifications.render import Rendered

# Conservative on purpose: addresses come from our own broker table, so anything unusual
# (a line break above all) is a sign of tampering, not of an exotic but valid address.
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+")
_MESSAGE_ID = re.compile(r"<[^\s<>@]+@[^\s<>@]+>")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
SENDER_NAME = "tenderbot"
# The subject as a base64 encoded-word: the email package splits a quoted-printable one
# character by character, re-measuring the line each time, which cost more than the rest
# of the e-mail together.
SUBJECT_CHARSET = Charset("utf-8")
SUBJECT_CHARSET.header_encoding = BASE64


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


def _text_part(content: str, subtype: str) -> MIMENonMultipart:
    """Quoted-printable keeps German text readable in the raw e-mail (and the .eml files).

    Encoded by binascii (C) rather than by the email package's pure-Python encoder, which
    looked at every character several times.
    """
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(content.encode("utf-8"), istext=True).decode("ascii"))
    return part


def build_email(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    date: datetime,
    reply_to: str | None = None,
) -> Message:
    """multipart/alternative (plain text first, HTML preferred) with the row's Message-ID.

    Built with the classic ``email.mime`` classes: ten times faster than ``EmailMessage``
    with the default policy, which matters at hundreds of e-mails per second. That API
    does not refuse line breaks in header values itself, so every value is checked here.
    """
    if not _MESSAGE_ID.fullmatch(message_id):
        raise UnsafeHeader(f"not a Message-ID: {message_id!r}")
    # Quoted-printable turns every "=" of the content into "=3D", so a boundary starting
    # with "=_" cannot occur in the parts and the generator need not scan them for one.
    token = message_id.strip("<>").split("@", 1)[0]
    message = MIMEMultipart("alternative", boundary=f"=_tenderbot_{token}")
    # A Header object (not its string) lets the generator fold long subjects correctly.
    message["Subject"] = cast(
        str, Header(checked_header("Subject", rendered.subject), SUBJECT_CHARSET)
    )
    message["From"] = formataddr((SENDER_NAME, checked_address(sender)))
    message["To"] = checked_address(recipient)
    if reply_to is not None:
        message["Reply-To"] = checked_address(reply_to)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    # RFC 3834: auto-responders must not answer a system e-mail.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "de"
    message.attach(_text_part(rendered.text, "plain"))
    message.attach(_text_part(rendered.html, "html"))
    return message


def serialised(message: Message) -> bytes:
    """The bytes aiosmtplib's send_message would put on the wire for our messages.

    Our e-mails are quoted-printable with encoded headers, i.e. plain ASCII, so the 7bit
    form is the same as the 8bit one and fits every server.
    """
    with io.BytesIO() as buffer:
        # No mbox "From " mangling: that is for mailbox files and would show the broker a
        # ">From" wherever a line of the text starts with "From ".
        BytesGenerator(buffer, mangle_from_=False).flatten(message)
        return buffer.getvalue()


# Where the email package's generator (policy compat32) folds a header line.
_FOLD_AT = 78
_NEWLINES = re.compile(r"\r\n|\r|\n")
_PART_HEADERS = (
    'Content-Type: text/{subtype}; charset="utf-8"\n'
    "MIME-Version: 1.0\n"
    "Content-Transfer-Encoding: quoted-printable\n\n"
)


def _plain(name: str, value: str) -> bool:
    """A header the generator writes unchanged: ASCII, single spaces, one short line."""
    return (
        value.isascii()
        and "  " not in value
        and value.strip() == value
        and len(name) + 2 + len(value) <= _FOLD_AT
    )


def _qp_lines(content: str) -> str:
    # As the generator writes a payload: its line breaks as "\n".
    quoted = binascii.b2a_qp(content.encode("utf-8"), istext=True).decode("ascii")
    return _NEWLINES.sub("\n", quoted) if "\r" in quoted else quoted


def _folded_content_type(boundary: str) -> str:
    """The multipart Content-Type as ``Header`` folds it, written directly where it is one
    short line or breaks once before the boundary (Header costs as much as the rest of
    the headers)."""
    value = f'multipart/alternative; boundary="{boundary}"'
    if len("Content-Type: ") + len(value) <= _FOLD_AT:
        return value
    if len(f' boundary="{boundary}"') <= _FOLD_AT:
        return f'multipart/alternative;\n boundary="{boundary}"'
    return Header(value, header_name="Content-Type").encode(linesep="\n", maxlinelen=_FOLD_AT)


def _folded_subject(subject: str) -> str:
    """The subject as ``Header`` encodes it: one base64 encoded-word where that fits on the
    line (ours do), else Header's own split into several."""
    if subject:
        word = f"=?utf-8?b?{base64.b64encode(subject.encode('utf-8')).decode('ascii')}?="
        if len(word) <= _FOLD_AT:
            return word
    return Header(subject, SUBJECT_CHARSET).encode(linesep="\n", maxlinelen=_FOLD_AT)


def email_bytes(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    date: datetime,
    reply_to: str | None = None,
) -> bytes:
    """``serialised(build_email(...))``, written directly.

    The generator re-folds every header of every part through ``email.header.Header``,
    which cost more than building the message: here the fixed part headers are written as
    they come out, the subject and the boundary's line are folded as ``Header`` folds them
    (written directly in the usual cases), and the other headers are short ASCII lines the
    generator leaves unchanged; an e-mail with any other header (a very long address) goes
    the slow way.
    """
    if not _MESSAGE_ID.fullmatch(message_id):
        raise UnsafeHeader(f"not a Message-ID: {message_id!r}")
    subject = checked_header("Subject", rendered.subject)
    headers = [
        ("From", formataddr((SENDER_NAME, checked_address(sender)))),
        ("To", checked_address(recipient)),
    ]
    if reply_to is not None:
        headers.append(("Reply-To", checked_address(reply_to)))
    headers += [
        ("Date", format_datetime(date)),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
        ("Content-Language", "de"),
    ]
    if not all(_plain(name, value) for name, value in headers):
        return serialised(
            build_email(
                rendered,
                sender=sender,
                recipient=recipient,
                message_id=message_id,
                date=date,
                reply_to=reply_to,
            )
        )
    boundary = f"=_tenderbot_{message_id.strip('<>').split('@', 1)[0]}"
    content_type = _folded_content_type(boundary)
    folded_subject = _folded_subject(subject)
    text = "".join(
        [
            f"Content-Type: {content_type}\n",
            "MIME-Version: 1.0\n",
            f"Subject: {folded_subject}\n",
            *(f"{name}: {value}\n" for name, value in headers),
            f"\n--{boundary}\n",
            _PART_HEADERS.format(subtype="plain"),
            _qp_lines(rendered.text),
            f"\n--{boundary}\n",
            _PART_HEADERS.format(subtype="html"),
            _qp_lines(rendered.html),
            f"\n--{boundary}--\n",
        ]
    )
    return text.encode("ascii")
