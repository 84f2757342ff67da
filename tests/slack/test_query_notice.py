"""One event, one Slack notification: a backoffice query reaches broker Anna once in Slack.

The query mirrored into the thread under her card is the notice; the N2 e-mail still goes
out; a separate "Rückfrage vom Backoffice" DM only where her card's thread is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA
from notifications import LocalSinkNotifier, SlackDmNotifier
from notifications.worker import flush_outbox
from store.models import Broker
from tests.conftest import BERND
from tests.handlers.scenario import eventually, links_of, start_tender, thread_links
from tests.notifications.helpers import outbox
from tests.slack.conftest import BOT_TOKEN

ANNA_DM = "D0ANNA"


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


def top_level(slack: LocalSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("thread_ts") in (None, m["ts"])]


async def flush(sessions: async_sessionmaker[AsyncSession], slack: LocalSlack, tmp: Any) -> None:
    """The outbox worker's round: e-mails into files, Slack rows to the local Slack."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.url)
    await flush_outbox(
        sessions, [LocalSinkNotifier(tmp, mail_from="tenderbot@localhost"), SlackDmNotifier(client)]
    )


async def bernd_writes_under_the_card(
    slack: LocalSlack, slack_request: SignedSender, channel: str, card_ts: str, text: str
) -> None:
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": BERND,
        "text": text,
        "thread_ts": card_ts,
        "channel_type": "channel",
    }
    event["ts"] = slack.state.post(channel, dict(event))["ts"]
    assert (await slack_request.send_event(event)).status == 200


async def test_it_notifies_anna_of_a_query_once_in_slack_by_the_mirrored_thread_post(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Any,
) -> None:
    # rules M5, N2
    await start_tender(slack_request, slack, sessions)
    backoffice, broker = await thread_links(sessions)
    before = top_level(slack, ANNA_DM)

    await bernd_writes_under_the_card(
        slack, slack_request, backoffice.channel, backoffice.ts, "Gab es Vorschäden?"
    )
    await slack.wait_for(
        lambda: any(m.get("bot_id") for m in slack.messages(ANNA_DM, broker.ts)[1:])
    )
    await flush(sessions, slack, tmp_path)

    mirrored = [m for m in slack.messages(ANNA_DM, broker.ts) if m["ts"] != broker.ts]
    assert len(mirrored) == 1
    assert "Gab es Vorschäden?" in str(mirrored[0]["blocks"])
    assert top_level(slack, ANNA_DM) == before  # no separate "Rückfrage vom Backoffice" DM
    rows = await outbox(sessions)
    assert sorted((row.kind, row.recipient) for row in rows) == [
        ("email", "anna@makler-adler.example"),
        ("email", "assistenz@makler-adler.example"),
    ]
    assert {row.status for row in rows} == {"sent"}


async def test_it_sends_the_query_as_a_dm_notice_where_annas_card_thread_is_missing(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Any,
) -> None:
    # Slack refused Anna's DM, so her request confirmation and its thread are missing.
    # (Twice: the command first looks for documents shared in the DM, then posts the card.)
    slack.fail_next("conversations.open", error="user_not_found", times=2)
    response = await slack_request.send_command(
        ANNA,
        "/ausschreibung",
        'neu sparte=sach kunde="Korn" vorschaeden=keine beschreibung="Lager"',
    )
    assert response.status == 200
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 1))
    [backoffice] = (await thread_links(sessions))[:1]
    assert backoffice.side == "backoffice"

    await bernd_writes_under_the_card(
        slack, slack_request, backoffice.channel, backoffice.ts, "Gab es Vorschäden?"
    )
    await eventually(lambda: _queued_for_slack(sessions))
    await flush(sessions, slack, tmp_path)

    [notice] = top_level(slack, ANNA_DM)
    assert "Rückfrage vom Backoffice zu AS-2026-0001" in notice["text"]
    assert ">Gab es Vorschäden?" in notice["text"]


async def _queued_for_slack(sessions: async_sessionmaker[AsyncSession]) -> bool:
    rows = await outbox(sessions, "slack")
    return [row.recipient for row in rows if row.template == "query"] == [ANNA]
