"""Reading an e-mail answer: only the new text, the sender, the files, and machines told apart."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from handlers.mail_parsing import AutoReply, InboundMail, UnreadableMail, new_text, read_reply

ANNA = "anna@makler-adler.example"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Danke, erledigt.\n\n-----Ursprüngliche Nachricht-----\nVon: tenderbot "
            "<t@example.org>\nGesendet: Dienstag, 1. Dezember 2026 10:05\nAn: Anna\n"
            "Betreff: Rückfrage\n\nGuten Tag\n",
            "Danke, erledigt.",
        ),
        (
            "Thanks, see below.\n\nFrom: tenderbot <t@example.org>\nSent: Tuesday, December 1, "
            "2026 10:05 AM\nTo: Anna\nSubject: Query\n\nHello\n",
            "Thanks, see below.",
        ),
        (
            "Vorschäden:\n- 2019 Wasserschaden 3.000 EUR\n- 2021 Einbruch 1.200 EUR\n\n"
            "Viele Grüße\nAnna\n",
            "Vorschäden:\n- 2019 Wasserschaden 3.000 EUR\n- 2021 Einbruch 1.200 EUR",
        ),
        ("Ja.\n\nVon meinem Samsung Galaxy Smartphone gesendet.\n", "Ja."),
        ("Ja.\n\nGesendet von meinem iPad\n", "Ja."),
        ("Passt so.\n\n-- \nAnna Adler\nAdler Versicherungsmakler\n", "Passt so."),
        ("Passt so.\n\n> Guten Tag Anna Adler,\n> eine Rückfrage\n", "Passt so."),
        ("\n\nAm 01.12.2026 um 10:05 schrieb tenderbot <t@example.org>:\n> Guten Tag\n", ""),
    ],
)
def test_it_keeps_only_what_was_written_now(text: str, expected: str) -> None:
    assert new_text(text) == expected


def mail(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Anna Adler <{ANNA}>"
    message["To"] = "antwort+abc@antwort.example.org"
    message["Subject"] = "AW: Rückfrage"
    message["Message-ID"] = "<1@makler-adler.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Keine Vorschäden.\n")
    return message


def test_it_reads_sender_message_id_and_text() -> None:
    read = read_reply(mail().as_bytes(), ANNA)

    assert read == InboundMail(
        sender=ANNA, message_id="<1@makler-adler.example>", text="Keine Vorschäden.", attachments=()
    )


def test_it_knows_a_mail_without_message_id_by_its_content() -> None:
    message = mail()
    del message["Message-ID"]

    first = read_reply(message.as_bytes(), ANNA)
    again = read_reply(message.as_bytes(), ANNA)

    assert isinstance(first, InboundMail) and isinstance(again, InboundMail)
    assert first.message_id == again.message_id
    assert first.message_id.startswith("<sha256:")


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-generated"},
        {"Auto_Submitted": "auto-replied; owner-email=anna@makler-adler.example"},
        {"Precedence": "junk"},
        {"X_Autoreply": "yes"},
    ],
)
def test_it_recognises_mail_from_machines(headers: dict[str, str]) -> None:
    assert isinstance(read_reply(mail(**headers).as_bytes(), ANNA), AutoReply)


def test_it_takes_auto_submitted_no_as_a_person_writing() -> None:
    assert isinstance(read_reply(mail(Auto_Submitted="no").as_bytes(), ANNA), InboundMail)


def test_it_recognises_a_bounce_by_its_empty_return_path() -> None:
    assert isinstance(read_reply(mail().as_bytes(), ""), AutoReply)


def test_it_refuses_a_mail_without_sender() -> None:
    message = mail()
    del message["From"]

    with pytest.raises(UnreadableMail):
        read_reply(message.as_bytes(), ANNA)


def test_it_takes_attached_files_but_not_pictures_embedded_in_a_signature() -> None:
    message = mail()
    message.add_alternative('<p>Keine Vorschäden.</p><img src="cid:logo@adler">', subtype="html")
    html_part = message.get_payload()[1]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(
        b"\x89PNG logo",
        maintype="image",
        subtype="png",
        cid="<logo@adler>",
        filename="image001.png",
        disposition="inline",
    )
    message.add_attachment(
        b"%PDF police", maintype="application", subtype="pdf", filename="police.pdf"
    )
    message.add_attachment(
        b"\xff\xd8 foto",
        maintype="image",
        subtype="jpeg",
        filename="foto.jpg",
        disposition="inline",
    )

    read = read_reply(message.as_bytes(), ANNA)

    assert isinstance(read, InboundMail)
    assert read.text == "Keine Vorschäden."
    assert [(a.name, a.mimetype, a.content) for a in read.attachments] == [
        ("police.pdf", "application/pdf", b"%PDF police"),
        ("foto.jpg", "image/jpeg", b"\xff\xd8 foto"),
    ]
