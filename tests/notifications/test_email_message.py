"""The MIME message built for one delivery: what any mail program will read back."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.email_message import UnsafeHeader, build_email, email_bytes, serialised
from notifications.render import Rendered

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
MESSAGE_ID = "<0123456789abcdef@tenderbot>"


def read_back(rendered: Rendered) -> EmailMessage:
    message = build_email(
        rendered,
        sender="tenderbot@makler.example",
        recipient="anna@makler-adler.example",
        message_id=MESSAGE_ID,
        date=WHEN,
    )
    wire = serialised(message)
    assert wire.isascii()
    parsed = message_from_bytes(wire, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_it_reads_back_german_text_long_lines_and_awkward_lines_unchanged() -> None:
    text = (
        "Guten Tag Anna Adler,\n"
        "Gültig bis 31.12.2026 – Beitrag 1.234,50\xa0€ = Jahresbeitrag. \n"
        + "Sehr lange Zeile ohne Umbruch " * 8
        + "\n.\nFrom here on\n\tTab am Anfang und Leerzeichen am Ende   \n"
    )
    html = '<p style="color: #333">Bäckerei <strong>Korn</strong> &amp; Söhne</p>\n'
    subject = "[AS-2026-0001] Rückfrage vom Backoffice zu Ihrer Ausschreibung „Bäckerei“ " * 2

    message = read_back(Rendered(subject=subject, text=text, html=html, slack=""))

    assert message["Subject"] == subject
    assert message["Message-ID"] == MESSAGE_ID
    assert message["Date"] == "Mon, 23 Nov 2026 09:30:00 +0000"
    assert bodies(message) == (text, html)
    assert {part["Content-Transfer-Encoding"] for part in message.iter_parts()} == {
        "quoted-printable"
    }


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")))
def test_it_reads_back_any_text(text: str) -> None:
    message = read_back(Rendered(subject="Betreff", text=text, html=text, slack=""))

    # A parser cannot tell whether the last line ended in a line break.
    assert bodies(message) == (text, text) or bodies(message) == (text + "\n", text + "\n")


def test_it_refuses_a_subject_that_would_start_a_new_header() -> None:
    with pytest.raises(UnsafeHeader, match="Subject contains a line break"):
        read_back(Rendered(subject="Angebot\r\nBcc: x@evil.example", text="", html="", slack=""))


LONG_ADDRESS = "anna.adler.assistenz.vertretung." * 3 + "x@makler-adler.example"


@given(
    subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=200),
    text=st.text(st.characters(blacklist_categories=("Cs",))),
    html=st.text(st.characters(blacklist_categories=("Cs",))),
    recipient=st.sampled_from(["anna@makler-adler.example", LONG_ADDRESS]),
    reply_to=st.sampled_from([None, "antwort+AS-2026-0001.x1y2@makler-plattform.example"]),
    token=st.sampled_from(["0123456789abcdef", "0123456789abcdef" * 4]),
)
def test_it_writes_the_same_bytes_directly_as_the_email_package(
    subject: str, text: str, html: str, recipient: str, reply_to: str | None, token: str
) -> None:
    rendered = Rendered(subject=subject, text=text, html=html, slack="")
    headers = {
        "sender": "tenderbot@makler-plattform.example",
        "recipient": recipient,
        "message_id": f"<{token}@tenderbot>",
        "date": WHEN,
        "reply_to": reply_to,
    }

    direct = email_bytes(rendered, **headers)

    assert direct == serialised(build_email(rendered, **headers))
