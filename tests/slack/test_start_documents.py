"""Rule T1 through the real app: documents given at a tender's start, from the dialog's
file input or shared in Anna's DM just before `/ausschreibung neu …`.

They are stored with the tender (name, size, type, hash), shown on both cards and in
/verlauf, and re-shared into the backoffice card's thread; a refused file gets a German
reason and the tender starts without it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA
from handlers.requests import DOCUMENTS_BLOCK
from store.models import Attachment, Broker
from tests.blocks import block
from tests.conftest import BACKOFFICE_CHANNEL
from tests.handlers.scenario import (
    START_TEXT,
    all_text,
    command_reply,
    eventually,
    links_of,
    load_tender,
    thread_links,
)
from tests.slack.conftest import BOT_TOKEN

PDF = b"%PDF-1.4 Gebaeudebeschreibung Backstube\n" * 50
JPEG = b"\xff\xd8\xff\xe0 Foto Lager" * 20
ANNA_DM = "D0ANNA"


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


def text(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def start_values(files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "product": {"value": {"type": "static_select", "selected_option": {"value": "sach"}}},
        "customer": text("Bäckerei Korn GmbH"),
        "deductible": text(None),
        "prior_claims": text("keine"),
        "description": text("Backstube mit Lager"),
        "reason": text(None),
        "documents": {"value": {"type": "file_input", "files": files}},
    }


async def documents(sessions: async_sessionmaker[AsyncSession]) -> list[Attachment]:
    async with sessions() as session:
        return list(await session.scalars(select(Attachment).order_by(Attachment.id)))


async def shared_in_thread(slack: LocalSlack, card_ts: str, count: int) -> list[dict[str, Any]]:
    def uploads() -> list[dict[str, Any]]:
        return [m for m in slack.messages(BACKOFFICE_CHANNEL, card_ts) if m.get("files")]

    await slack.wait_for(lambda: len(uploads()) >= count)
    return uploads()


async def test_it_starts_with_the_dialogs_documents_and_refuses_a_program_with_a_reason(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    opened = await slack_request.send_command(ANNA, "/ausschreibung")
    assert opened.status == 200
    [call] = await slack.wait_for_calls("views.open")
    file_input = block(call.params["view"], DOCUMENTS_BLOCK)
    assert file_input["element"]["type"] == "file_input"
    picked = [
        slack.file_input_upload(ANNA, "gebaeude.pdf", PDF, "application/pdf"),
        slack.file_input_upload(ANNA, "lager.jpg", JPEG, "image/jpeg"),
        slack.file_input_upload(ANNA, "setup.exe", b"MZ\x90\x00", "application/x-msdownload"),
    ]

    answer = await slack_request.send_view_submission(
        ANNA, {"callback_id": "tender_start", "state": {"values": start_values(picked)}}
    )

    assert answer.status == 200 and answer.text == ""
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 2))
    backoffice, broker = await thread_links(sessions)
    uploads = await shared_in_thread(slack, backoffice.ts, 2)
    tender = await load_tender(sessions, "AS-2026-0001")
    stored = await documents(sessions)
    assert [(d.name, d.mimetype, d.size, d.sha256) for d in stored] == [
        ("gebaeude.pdf", "application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest()),
        ("lager.jpg", "image/jpeg", len(JPEG), hashlib.sha256(JPEG).hexdigest()),
    ]
    assert {d.tender_id for d in stored} == {tender.id}
    assert {d.message_id for d in stored} == {None}
    # Fetched from Slack with the bot token, as Slack requires.
    downloads = slack.calls("download")
    assert {c.headers["authorization"] for c in downloads} == {f"Bearer {BOT_TOKEN}"}
    assert "setup.exe" not in json.dumps([c.params for c in downloads])
    # Both cards list them; the backoffice thread has the files themselves.
    for card in (slack.messages(BACKOFFICE_CHANNEL)[0], slack.messages(ANNA_DM)[0]):
        shown = all_text(card)
        assert "*Dokumente*" in shown and "gebaeude.pdf (2 KB)" in shown
        assert "lager.jpg" in shown and "setup.exe" not in shown
    assert [[f["name"] for f in m["files"]] for m in uploads] == [["gebaeude.pdf"], ["lager.jpg"]]
    assert [slack.file_content(d.mirror_file_id or "") for d in await documents(sessions)] == [
        PDF,
        JPEG,
    ]
    # Anna learns why the program was left out; the tender runs without it.
    await slack.wait_for(lambda: len(slack.messages(ANNA_DM)) >= 2)
    notice = slack.messages(ANNA_DM)[-1]
    assert "AS-2026-0001" in notice["text"]
    assert "Dateien dieses Typs („setup.exe“) können nicht angehängt werden." in notice["text"]
    assert "ohne diese Datei gestartet" in notice["text"]
    assert tender.status == "open"
    assert broker.side == "broker"


async def test_it_shows_the_start_documents_in_verlauf(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    picked = [slack.file_input_upload(ANNA, "gebaeude.pdf", PDF, "application/pdf")]
    await slack_request.send_view_submission(
        ANNA, {"callback_id": "tender_start", "state": {"values": start_values(picked)}}
    )
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 2))

    history = await command_reply(slack_request, slack, ANNA, "/verlauf", "AS-2026-0001")

    assert "📎 gebaeude.pdf (2 KB)" in all_text(history)


async def share_in_dm(
    slack: LocalSlack, slack_request: SignedSender, name: str, content: bytes, mimetype: str
) -> dict[str, Any]:
    """Anna drops a file into her DM with tenderbot: Slack stores and posts it, then sends
    the event (which the app leaves alone: it is no tender thread)."""
    shared = slack.add_file(name, content, mimetype, user=ANNA)
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "file_share",
        "channel": ANNA_DM,
        "channel_type": "im",
        "user": ANNA,
        "text": "",
        "files": [shared],
    }
    event["ts"] = slack.state.post(ANNA_DM, dict(event))["ts"]
    assert (await slack_request.send_event(event)).status == 200
    return shared


async def test_it_takes_files_shared_in_the_dm_just_before_the_text_command(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel("2026-11-23 09:30 +01:00", tick=True):
        await share_in_dm(slack, slack_request, "alt.pdf", b"%PDF old", "application/pdf")
    await share_in_dm(slack, slack_request, "gebaeude.pdf", PDF, "application/pdf")

    reply = await command_reply(slack_request, slack, ANNA, "/ausschreibung", START_TEXT)

    assert "Dokumente übernommen: 1." in reply["text"]
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 2))
    backoffice, _broker = await thread_links(sessions)
    [upload] = await shared_in_thread(slack, backoffice.ts, 1)
    assert [f["name"] for f in upload["files"]] == ["gebaeude.pdf"]
    [stored] = await documents(sessions)
    assert (stored.name, stored.size) == ("gebaeude.pdf", len(PDF))
    cards = slack.messages(BACKOFFICE_CHANNEL)[0], slack.messages(ANNA_DM)[-1]
    assert all("gebaeude.pdf" in all_text(card) for card in cards)

    # The same file starts no second tender.
    again = START_TEXT.replace("haftpflicht", "sach")
    second = await command_reply(slack_request, slack, ANNA, "/ausschreibung", again)
    assert "Dokumente übernommen" not in second["text"]
    assert len(await documents(sessions)) == 1


async def test_it_points_to_the_dialog_when_no_file_was_shared(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reply = await command_reply(slack_request, slack, ANNA, "/ausschreibung", START_TEXT)

    assert "Dokumente geben Sie im Formular (`/ausschreibung`) mit" in reply["text"]
    assert "in der Direktnachricht mit tenderbot" in reply["text"]
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 2))
    assert await documents(sessions) == []
