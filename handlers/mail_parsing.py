"""An e-mail answer to a notice, parsed into one plain value: who, which mail, the new text
and the attachments. Pure: bytes in, a value out.

The new text is what the broker wrote above the quoted notice: mail-parser-reply splits the
mail at the "Am … schrieb …" / "On … wrote …" lines and Outlook's "Von:/Gesendet:" block and
drops signatures and "Gesendet von meinem iPhone" (German and English). What its tables
lack is cleaned off the end of that text here: the German iOS footer "Von meinem iPhone
gesendet", Outlook's "-----Ursprüngliche Nachricht-----" line (the library cuts below it)
and a block of "> " quoted lines without an attribution line above it. HTML-only mail is
turned into text by html2text first, which keeps blockquotes as "> " lines.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

import html2text
from mailparser_reply.parser import EmailMessage as ReplyText

from store.conversation import NewAttachment

REPLY_LANGUAGES = ["de", "en"]
# Mobile footers the library's German table does not know; matched on the last lines only.
_MOBILE_FOOTER = re.compile(
    r"^(?:Von meinem \S+(?: \S+){0,3} gesendet|Gesendet mit der \S+(?: \S+){0,3} App)\.?$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^-{3,} ?(?:Ursprüngliche Nachricht|Original Message|Weitergeleitete Nachricht) ?-{3,}$",
    re.IGNORECASE,
)
AUTO_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})


class UnreadableMail(ValueError):
    """The mail lacks what every answer needs (a sender); the reason is German."""

    def __init__(self, message_de: str) -> None:
        super().__init__(message_de)
        self.message_de = message_de


@dataclass(frozen=True)
class AutoReply:
    """An out-of-office or other automatic mail: taken and dropped, never answered."""

    reason: str


@dataclass(frozen=True)
class InboundMail:
    sender: str
    message_id: str
    text: str
    attachments: tuple[NewAttachment, ...]


def parse_mail(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def auto_reply_reason(message: EmailMessage, return_path: str | None) -> str | None:
    """Why this mail was sent by a machine (RFC 3834 and the usual vendor headers), or None."""
    if not return_path or return_path == "<>":
        return "empty return path"
    submitted = str(message.get("Auto-Submitted", "")).split(";", 1)[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond"):
        if message.get(header) is not None:
            return header
    return None


def sender_of(message: EmailMessage) -> str:
    addresses = [address for _name, address in getaddresses(message.get_all("From", []))]
    addresses = [address for address in addresses if "@" in address]
    if len(addresses) != 1:
        raise UnreadableMail("Die E-Mail hat keinen eindeutigen Absender.")
    return addresses[0].strip().lower()


def message_id_of(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID; a mail without one is known by its content, so a resend still is."""
    message_id = str(message.get("Message-ID", "")).strip()
    return message_id or "<sha256:" + hashlib.sha256(raw).hexdigest() + ">"


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wrapping: Slack wraps itself
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    return converter.handle(html)


def _body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    assert isinstance(body, EmailMessage)
    try:
        content = body.get_content()
    except (LookupError, ValueError):
        # An unknown charset: the bytes as far as they are readable.
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if body.get_content_subtype() == "html":
        return html_to_text(content)
    return content


def _is_leftover(line: str) -> bool:
    """A last line that is no part of what was written now."""
    line = line.strip()
    return (
        not line
        or line.startswith(">")
        or bool(_MOBILE_FOOTER.match(line))
        or bool(_SEPARATOR.match(line))
    )


def new_text(text: str) -> str:
    """Only what the sender wrote now: no quoted history, no signature, no mobile footer."""
    # keep_hyphen_lists: "- Vorschaden 2019" lines are an answer, not a signature.
    parsed = ReplyText(text=text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True).read()
    if not parsed.replies or parsed.replies[0].headers:
        # The mail begins with a quoted mail's header: nothing new above it.
        return ""
    lines = parsed.replies[0].body.splitlines()
    while lines and _is_leftover(lines[-1]):
        lines.pop()
    return "\n".join(lines).strip()


def _leaves(message: EmailMessage, inside_related: bool = False) -> list[tuple[EmailMessage, bool]]:
    if not message.is_multipart():
        return [(message, inside_related)]
    related = inside_related or message.get_content_subtype() == "related"
    leaves: list[tuple[EmailMessage, bool]] = []
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        leaves.extend(_leaves(part, related))
    return leaves


def attachments_of(message: EmailMessage) -> tuple[NewAttachment, ...]:
    """Files the sender attached; pictures embedded in the HTML (a signature's logo) are not."""
    body = message.get_body(preferencelist=("plain", "html"))
    files: list[NewAttachment] = []
    for part, inside_related in _leaves(message):
        if part is body:
            continue
        disposition = part.get_content_disposition()
        name = part.get_filename()
        if disposition != "attachment" and (not name or (inside_related and part["Content-ID"])):
            continue
        if disposition == "attachment" and not name:
            name = "Anhang"
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes):
            continue
        files.append(NewAttachment(str(name), part.get_content_type(), content))
    return tuple(files)


def read_reply(raw: bytes, return_path: str | None) -> InboundMail | AutoReply:
    """The answer in ``raw``; AutoReply for mail a machine sent; UnreadableMail without a
    usable sender."""
    message = parse_mail(raw)
    reason = auto_reply_reason(message, return_path)
    if reason is not None:
        return AutoReply(reason)
    return InboundMail(
        sender=sender_of(message),
        message_id=message_id_of(message, raw),
        text=new_text(_body_text(message)),
        attachments=attachments_of(message),
    )
