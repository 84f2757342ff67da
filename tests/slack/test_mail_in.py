"""Answer by e-mail: a broker's reply to a notice lands in the tender's thread.

Broker Anna starts a tender in Slack, backoffice Bernd asks in the backoffice thread (M2
opens the module), the query notice (N2) goes out as an .eml file with its Reply-To, and
Anna answers that address with aiosmtplib against the real `mail-in` SMTP server running
in-process. The test checks the SMTP dialogue, the store and what the local Slack shows.
"""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import make_msgid
from pathlib import Path
from typing import cast

import aiosmtplib
import pytest
import time_machine
from click.testing import CliRunner
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.main import cli
from bot.localslack import LocalSlack, SignedSender
from bot.mail_in import RunningMailIn, running_mail_in
from bot.notifiers import reply_addresses
from bot.settings import Settings
from notifications import LocalSinkNotifier, flush_outbox
from store.db import make_engine, make_sessionmaker, transaction
from store.models import Attachment
from store.reply_tokens import ReplyTokens, reply_address
from store.tenders import close_tender
from tests.conftest import ANNA as ANNA_DATA
from tests.conftest import BERND, BERND_ACTOR, ON_POSTGRES
from tests.handlers.scenario import (
    TenderThreads,
    all_text,
    command_reply,
    replies,
    settled,
    stored,
    write,
)

REPLY_DOMAIN = "antwort.tenderbot.example"
REPLY_SECRET = "test-reply-secret-0123456789"
QUESTION = "Gab es in den letzten fünf Jahren Vorschäden über 5.000 €?"


@pytest.fixture(autouse=True)
def december_2026() -> Iterator[None]:
    with time_machine.travel("2026-12-01 10:00 +01:00", tick=True):
        yield


@pytest.fixture
def reply_settings(slack_settings: Settings) -> Settings:
    return slack_settings.model_copy(
        update={"reply_domain": REPLY_DOMAIN, "reply_secret": SecretStr(REPLY_SECRET)}
    )


@pytest.fixture
def slack_client(slack: LocalSlack, reply_settings: Settings) -> AsyncWebClient:
    token = reply_settings.slack_bot_token
    assert token is not None
    return AsyncWebClient(token=token.get_secret_value(), base_url=slack.url + "/")


@pytest.fixture
async def mailin(
    reply_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    slack_client: AsyncWebClient,
) -> AsyncIterator[RunningMailIn]:
    async with running_mail_in(reply_settings, sessions, slack_client, port=0) as running:
        yield running


@dataclass(frozen=True)
class Notice:
    """The query e-mail as Anna's mail program shows it."""

    mail: EmailMessage
    reply_to: str


async def bernd_asks(slack: LocalSlack, slack_request: SignedSender, tender: TenderThreads) -> None:
    await write(slack, slack_request, BERND, tender.backoffice, QUESTION)
    await slack.wait_for(lambda: len(replies(slack, tender.broker)) >= 1)


async def notices(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], directory: Path
) -> dict[str, Notice]:
    """Send the queued e-mails as .eml files; each recipient's latest, by address."""
    sink = LocalSinkNotifier(directory, mail_from="tenderbot@example.org")
    sink.replies = reply_addresses(settings)
    await flush_outbox(sessions, [sink])
    mails = await asyncio.to_thread(read_mails, sink.written)
    return {str(mail["To"]): Notice(mail, str(mail.get("Reply-To", ""))) for mail in mails}


def read_mails(paths: list[Path]) -> list[EmailMessage]:
    mails = [email.message_from_bytes(path.read_bytes(), policy=default_policy) for path in paths]
    assert all(isinstance(mail, EmailMessage) for mail in mails)
    return cast(list[EmailMessage], mails)


@pytest.fixture
async def query_notices(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    reply_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> dict[str, Notice]:
    """Bernd's query (N2) as Anna and her assistant on CC received it."""
    await bernd_asks(slack, slack_request, tender)
    return await notices(reply_settings, sessions, tmp_path / "mails")


@pytest.fixture
def query_notice(query_notices: dict[str, Notice]) -> Notice:
    return query_notices[ANNA_DATA.email]


# -- what Anna's mail program sends ---------------------------------------------------------


def answer(
    notice: Notice,
    text: str,
    *,
    sender: str = ANNA_DATA.email,
    html: str | None = None,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A reply to ``notice`` with ``text`` as the whole plain body (quote included)."""
    mail = EmailMessage()
    mail["From"] = f"Anna Adler <{sender}>"
    mail["To"] = notice.reply_to
    mail["Subject"] = "AW: " + str(notice.mail["Subject"])
    mail["Message-ID"] = message_id or make_msgid(domain="makler-adler.example")
    mail["In-Reply-To"] = str(notice.mail["Message-ID"])
    for name, value in (headers or {}).items():
        mail[name] = value
    if html is None:
        mail.set_content(text)
    else:
        if text:
            mail.set_content(text)
            mail.add_alternative(html, subtype="html")
        else:
            mail.set_content(html, subtype="html")
    return mail


OUTLOOK_DE = f"""Hallo Herr Backoffice,

nein, Vorschäden gab es keine. Die Gewerbeanmeldung reiche ich nach.

Mit freundlichen Grüßen
Anna Adler
Adler Versicherungsmakler GmbH | Tel. 0711 123456

Von: tenderbot <tenderbot@example.org>
Gesendet: Dienstag, 1. Dezember 2026 10:05
An: Anna Adler <{ANNA_DATA.email}>
Betreff: [AS-2026-0001] Rückfrage vom Backoffice

Guten Tag Anna Adler,

Bernd Backoffice aus dem Backoffice hat eine Rückfrage zu Ihrer Ausschreibung
"""

GMAIL_EN = """No prior claims in the last five years.

On Tue, Dec 1, 2026 at 10:05 AM tenderbot <tenderbot@example.org> wrote:

> Guten Tag Anna Adler,
>
> Bernd Backoffice aus dem Backoffice hat eine Rückfrage
"""

GMAIL_DE = """Keine Vorschäden seit 2019.
Die Police hängt beim Versicherer.

Am Di., 1. Dez. 2026 um 10:05 Uhr schrieb tenderbot <
tenderbot@example.org>:

> Guten Tag Anna Adler,
>
> Bernd Backoffice aus dem Backoffice hat eine Rückfrage
"""

APPLE_DE = """Ja, das Gebäude ist gesprinklert.

Von meinem iPhone gesendet

> Am 01.12.2026 um 10:05 schrieb tenderbot <tenderbot@example.org>:
>
> Guten Tag Anna Adler,
"""

APPLE_EN = """Yes, the building has sprinklers.

Sent from my iPhone

> On 1. Dec 2026, at 10:05, tenderbot <tenderbot@example.org> wrote:
>
> Guten Tag Anna Adler,
"""


async def send(mailin: RunningMailIn, mail: EmailMessage, *, return_path: str | None = None) -> str:
    """Deliver like a mail server; returns the final reply, raises on a refusal."""
    sender = ANNA_DATA.email if return_path is None else return_path
    async with aiosmtplib.SMTP(hostname=mailin.host, port=mailin.port) as client:
        recipients = [str(mail["To"])]
        _refused, reply = await client.sendmail(sender, recipients, mail.as_bytes())
    return reply


# -- accepted answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "body", "expected"),
    [
        (
            "outlook-de",
            OUTLOOK_DE,
            "Hallo Herr Backoffice,\n\nnein, Vorschäden gab es keine. Die Gewerbeanmeldung "
            "reiche ich nach.",
        ),
        ("gmail-en", GMAIL_EN, "No prior claims in the last five years."),
        ("gmail-de", GMAIL_DE, "Keine Vorschäden seit 2019.\nDie Police hängt beim Versicherer."),
        ("apple-de", APPLE_DE, "Ja, das Gebäude ist gesprinklert."),
        ("apple-en", APPLE_EN, "Yes, the building has sprinklers."),
    ],
)
async def test_it_puts_only_the_new_text_of_a_reply_into_both_threads(
    shape: str,
    body: str,
    expected: str,
    query_notice: Notice,
    tender: TenderThreads,
    mailin: RunningMailIn,
    slack: LocalSlack,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reply = await send(mailin, answer(query_notice, body))

    assert reply.startswith("2.0.0")
    question, taken = await settled(sessions, 2)
    assert (taken.role, taken.author_slack_id, taken.via) == ("broker", "U0ANNA", "email")
    assert taken.body == expected
    # Rule M3: the backoffice card's thread shows it attributed to Anna, marked as e-mail …
    [mirror] = [m for m in replies(slack, tender.backoffice) if m.get("bot_id")]
    assert mirror["username"] == "Anna Adler (Vermittler)"
    assert expected.splitlines()[0] in all_text(mirror)
    assert "per E-Mail" in all_text(mirror)
    # … and Anna's own thread shows what she answered, next to Bernd's question.
    own = [m for m in replies(slack, tender.broker) if "per E-Mail" in all_text(m)]
    assert len(own) == 1 and expected.splitlines()[0] in all_text(own[0])
    assert (taken.source_channel, taken.source_ts) == (tender.broker.channel, own[0]["ts"])
    assert question.body == QUESTION


async def test_it_shows_the_answer_in_the_history_as_sent_by_e_mail(
    query_notice: Notice,
    tender: TenderThreads,
    mailin: RunningMailIn,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await send(mailin, answer(query_notice, GMAIL_DE))
    await settled(sessions, 2)

    shown = await command_reply(slack_request, slack, "U0ANNA", "/verlauf", tender.reference)

    assert "Keine Vorschäden seit 2019." in all_text(shown)
    assert "per E-Mail" in all_text(shown)
    assert "Am Di." not in all_text(shown)


async def test_it_reads_an_html_only_reply_as_text(
    query_notice: Notice, mailin: RunningMailIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    html = (
        '<div dir="ltr"><p>Die Versicherungssumme beträgt <b>250.000 €</b>.</p>'
        "<p>Viele Grüße<br>Anna Adler</p></div>"
        '<div class="gmail_quote"><div class="gmail_attr">Am Di., 1. Dez. 2026 um 10:05 Uhr '
        "schrieb tenderbot &lt;tenderbot@example.org&gt;:<br></div>"
        "<blockquote>Guten Tag Anna Adler,<br>Bernd Backoffice hat eine Rückfrage</blockquote>"
        "</div>"
    )
    await send(mailin, answer(query_notice, "", html=html))

    _question, taken = await settled(sessions, 2)
    assert taken.body == "Die Versicherungssumme beträgt 250.000 €."


async def test_it_turns_an_attachment_into_a_thread_file(
    query_notice: Notice,
    tender: TenderThreads,
    mailin: RunningMailIn,
    slack: LocalSlack,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    mail = answer(query_notice, "Anbei die Schadenliste.\n\n" + GMAIL_EN.split("\n", 1)[1])
    pdf = b"%PDF-1.4 Schadenliste 2019-2026"
    mail.add_attachment(pdf, maintype="application", subtype="pdf", filename="schaeden.pdf")

    await send(mailin, mail)

    _question, taken = await settled(sessions, 2)
    assert taken.body == "Anbei die Schadenliste."
    async with sessions() as session:
        [file] = (await session.scalars(select(Attachment))).all()
    assert (file.message_id, file.name, file.mimetype, file.content) == (
        taken.id,
        "schaeden.pdf",
        "application/pdf",
        pdf,
    )
    [uploaded] = await slack.wait_for_calls("files.completeUploadExternal")
    assert (uploaded.params["channel_id"], uploaded.params["thread_ts"]) == (
        tender.backoffice.channel,
        tender.backoffice.ts,
    )


async def test_it_takes_an_answer_from_the_cc_address_the_notice_went_to(
    query_notices: dict[str, Notice],
    mailin: RunningMailIn,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cc = ANNA_DATA.cc_emails[0]
    cc_notice = query_notices[cc]

    await send(mailin, answer(cc_notice, "Frau Adler ist im Urlaub; keine Vorschäden.", sender=cc))

    _question, taken = await settled(sessions, 2)
    assert (taken.author_slack_id, taken.body) == (
        "U0ANNA",
        "Frau Adler ist im Urlaub; keine Vorschäden.",
    )


async def test_it_makes_one_message_of_the_same_mail_delivered_twice(
    query_notice: Notice,
    tender: TenderThreads,
    mailin: RunningMailIn,
    slack: LocalSlack,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    mail = answer(query_notice, GMAIL_EN)

    first = await send(mailin, mail)
    second = await send(mailin, mail)

    assert first.startswith("2.0.0") and second.startswith("2.0.0")
    await settled(sessions, 2)
    await mailin.handler.settle()
    assert len(await stored(sessions)) == 2
    assert len([m for m in replies(slack, tender.backoffice) if m.get("bot_id")]) == 1


# -- refusals in the SMTP dialogue ----------------------------------------------------------


async def refused_at_rcpt(mailin: RunningMailIn, mail: EmailMessage) -> aiosmtplib.SMTPResponse:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(mailin, mail)
    [error] = refused.value.recipients
    return aiosmtplib.SMTPResponse(error.code, error.message)


async def refused_after_data(mailin: RunningMailIn, mail: EmailMessage) -> aiosmtplib.SMTPResponse:
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(mailin, mail)
    return aiosmtplib.SMTPResponse(refused.value.code, refused.value.message)


async def test_it_refuses_a_forged_token_at_rcpt(
    query_notice: Notice, mailin: RunningMailIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    forged = ReplyTokens("someone-elses-secret-0123456789").issue("AS-2026-0001", ANNA_DATA.email)
    mail = answer(query_notice, GMAIL_EN)
    mail.replace_header("To", reply_address(forged, REPLY_DOMAIN))

    response = await refused_at_rcpt(mailin, mail)

    assert response.code == 550 and "ungueltig" in response.message
    assert len(await stored(sessions)) == 1


async def test_it_refuses_an_altered_token_at_rcpt(
    query_notice: Notice, mailin: RunningMailIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    local, domain = query_notice.reply_to.split("@")
    altered = local[:-1] + ("a" if local[-1] != "a" else "b")
    mail = answer(query_notice, GMAIL_EN)
    mail.replace_header("To", f"{altered}@{domain}")

    response = await refused_at_rcpt(mailin, mail)

    assert response.code == 550
    assert len(await stored(sessions)) == 1


async def test_it_refuses_an_address_of_another_domain_at_rcpt(
    query_notice: Notice, mailin: RunningMailIn
) -> None:
    mail = answer(query_notice, GMAIL_EN)
    mail.replace_header("To", query_notice.reply_to.replace(REPLY_DOMAIN, "example.org"))

    response = await refused_at_rcpt(mailin, mail)

    assert response.code == 550


async def test_it_refuses_an_answer_from_another_sender(
    query_notice: Notice, mailin: RunningMailIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mail = answer(query_notice, GMAIL_EN, sender="mallory@example.net")

    response = await refused_after_data(mailin, mail)

    assert response.code == 550 and "Adresse" in response.message
    assert len(await stored(sessions)) == 1


async def test_it_refuses_the_brokers_answer_to_the_cc_notice_from_her_own_address(
    query_notices: dict[str, Notice],
    mailin: RunningMailIn,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cc_notice = query_notices[ANNA_DATA.cc_emails[0]]

    response = await refused_after_data(mailin, answer(cc_notice, GMAIL_EN))

    assert response.code == 550
    assert len(await stored(sessions)) == 1


async def test_it_refuses_a_reply_with_nothing_new(
    query_notice: Notice, mailin: RunningMailIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Outlook put the signature above the quote, and Anna sent it without writing anything.
    only_quote = (
        "\n\nMit freundlichen Grüßen\nAnna Adler\n\n" + OUTLOOK_DE[OUTLOOK_DE.index("Von:") :]
    )

    response = await refused_after_data(mailin, answer(query_notice, only_quote))

    assert response.code == 550 and "keinen neuen Text" in response.message
    assert len(await stored(sessions)) == 1


async def test_it_refuses_an_executable_attachment_like_slack_does(
    query_notice: Notice, mailin: RunningMailIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mail = answer(query_notice, "Das Programm zur Berechnung.")
    mail.add_attachment(
        b"MZ...", maintype="application", subtype="octet-stream", filename="rechner.exe"
    )

    response = await refused_after_data(mailin, mail)

    assert response.code == 550 and "rechner.exe" in response.message
    assert len(await stored(sessions)) == 1


async def test_it_refuses_an_answer_to_a_closed_tender_saying_so(
    query_notice: Notice,
    tender: TenderThreads,
    mailin: RunningMailIn,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        await close_tender(session, BERND_ACTOR, tender.reference)

    response = await refused_after_data(mailin, answer(query_notice, GMAIL_EN))

    assert response.code == 550
    assert f"Ausschreibung {tender.reference} ist abgeschlossen" in response.message
    assert len(await stored(sessions)) == 1


async def test_it_refuses_an_answer_before_the_backoffice_opened_the_conversation(
    tender: TenderThreads, mailin: RunningMailIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Rule M2: e.g. an answer to the offer notice (N1) before the backoffice wrote anything.
    token = ReplyTokens(REPLY_SECRET).issue(tender.reference, ANNA_DATA.email)
    notice = Notice(EmailMessage(), reply_address(token, REPLY_DOMAIN))
    notice.mail["Subject"] = f"[{tender.reference}] Neues Angebot"
    notice.mail["Message-ID"] = "<offer@tenderbot>"

    response = await refused_after_data(mailin, answer(notice, "Ich nehme das Angebot."))

    assert response.code == 550 and "noch keine Unterhaltung" in response.message
    assert await stored(sessions) == []


# -- no loops ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "return_path"),
    [
        ({"Auto-Submitted": "auto-replied"}, None),
        ({"Precedence": "auto_reply"}, None),
        ({"Precedence": "bulk"}, None),
        ({"X-Autoreply": "yes"}, None),
        ({}, ""),
    ],
)
async def test_it_drops_automatic_replies_silently(
    headers: dict[str, str],
    return_path: str | None,
    query_notice: Notice,
    mailin: RunningMailIn,
    slack: LocalSlack,
    tender: TenderThreads,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    mail = answer(query_notice, "Ich bin bis 14.12. nicht im Büro.", headers=headers)
    posted = len(slack.calls("chat.postMessage"))

    reply = await send(mailin, mail, return_path=return_path)

    assert reply.startswith("2.0.0")
    await mailin.handler.settle()
    assert len(await stored(sessions)) == 1
    assert len(slack.calls("chat.postMessage")) == posted


async def test_it_queues_no_e_mail_for_an_answer(
    query_notice: Notice,
    mailin: RunningMailIn,
    reply_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    # Our own notices never answer a mail: a broker's message triggers no notice at all.
    await send(mailin, answer(query_notice, GMAIL_EN))
    await settled(sessions, 2)

    assert await notices(reply_settings, sessions, tmp_path / "after") == {}


# -- exactly once --------------------------------------------------------------------------


async def test_it_asks_the_sender_to_retry_while_the_database_is_down(
    query_notice: Notice,
    reply_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    slack_client: AsyncWebClient,
    search_path: str | None,
    tmp_path: Path,
) -> None:
    down_url = (
        "postgresql+asyncpg://postgres@127.0.0.1:1/test"
        if ON_POSTGRES
        else f"sqlite+aiosqlite:///{tmp_path}/missing/tenderbot.db"
    )
    down = make_engine(down_url)
    outage = make_sessionmaker(down)
    mail = answer(query_notice, GMAIL_EN)
    try:
        async with running_mail_in(reply_settings, outage, slack_client, port=0) as mailin:
            response = await refused_after_data(mailin, mail)
            assert response.code == 451
            # The database is back: the sending server's next try is taken.
            outage.configure(bind=sessions.kw["bind"])
            reply = await send(mailin, mail)
            await mailin.handler.settle()
    finally:
        await down.dispose()

    assert reply.startswith("2.0.0")
    _question, taken = await settled(sessions, 2)
    assert taken.body == "No prior claims in the last five years."


def test_it_tells_the_operator_that_mail_in_needs_the_reply_domain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TENDERBOT_REPLY_DOMAIN", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env

    result = CliRunner().invoke(cli, ["mail-in", "--port", "2525"])

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: TENDERBOT_REPLY_DOMAIN is not set: mail-in needs the domain the reply "
        "addresses use (and TENDERBOT_REPLY_SECRET)"
    ]
