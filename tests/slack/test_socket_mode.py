"""Running in a real workspace: the start-up check of token and channel membership, and
Socket Mode end to end against the local Slack's Socket Mode server.

``tenderbot socket`` runs as in production (``serve_socket``: slack_bolt's
AsyncSocketModeHandler): it opens a connection with ``apps.connections.open``, gets
``hello``, and the local Slack sends envelopes and records the acks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.main import cli
from bot.http import serve
from bot.localslack import LocalSlack, SignedSender
from bot.localslack.running import local_settings
from bot.localslack.socket_mode import events_api_payload
from bot.personas import ANNA
from bot.settings import ConfigurationError, Settings
from bot.slack_client import build_client, kept_alive
from bot.socket import serve_socket
from store.models import Broker
from tests.conftest import BACKOFFICE_CHANNEL, BACKOFFICE_USERS, BERND
from tests.handlers.scenario import START_TEXT, eventually, links_of, thread_links
from tests.slack.conftest import BOT_TOKEN

APP_TOKEN = "xapp-1-local"
INVITE = "type /invite @tenderbot in that channel"


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


@pytest.fixture
def socket_settings(slack: LocalSlack, database_url: str, search_path: str | None) -> Settings:
    return local_settings(
        slack,
        database_url,
        database_schema=search_path,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        backoffice_users=BACKOFFICE_USERS,
        backoffice_channel=BACKOFFICE_CHANNEL,
    )


@pytest.fixture
async def socket_app(slack: LocalSlack, socket_settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    running = asyncio.create_task(serve_socket(socket_settings, stop=stop))
    waiting = asyncio.create_task(slack.socket_mode.wait_connected())
    await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        waiting.cancel()
        running.result()  # start-up failed: show why
    yield
    stop.set()
    await asyncio.wait_for(running, 30)


async def test_it_handles_a_slash_command_and_an_event_over_socket_mode_and_acks_both(
    anna: Broker,
    slack: LocalSlack,
    socket_app: None,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [opened] = slack.calls("apps.connections.open")
    assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
    shapes = SignedSender("http://unused.invalid/", "unused", slack)

    command = shapes.command_body(ANNA, "/ausschreibung", START_TEXT)
    ack = await slack.socket_mode.send("slash_commands", command, accepts_response_payload=True)

    assert set(ack) <= {"envelope_id", "payload"}
    assert ack["envelope_id"] == slack.socket_mode.acks[-1]["envelope_id"]
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 2))
    await slack.wait_for(lambda: len(slack.responses(ANNA)) == 1)
    assert "AS-2026-0001" in slack.responses(ANNA)[0]["text"]

    backoffice, broker = await thread_links(sessions)
    event: dict[str, Any] = {
        "type": "message",
        "channel": backoffice.channel,
        "channel_type": "channel",
        "user": BERND,
        "text": "Gab es Vorschäden?",
        "thread_ts": backoffice.ts,
    }
    event["ts"] = event["event_ts"] = slack.state.post(backoffice.channel, dict(event))["ts"]
    event_ack = await slack.socket_mode.send("events_api", events_api_payload(event))

    assert list(event_ack) == ["envelope_id"]

    def mirrored() -> list[dict[str, Any]]:
        return [m for m in slack.messages(broker.channel, broker.ts) if m["ts"] != broker.ts]

    await slack.wait_for(lambda: len(mirrored()) == 1)
    assert "Gab es Vorschäden?" in json.dumps(mirrored()[0]["blocks"], ensure_ascii=False)
    assert len(slack.socket_mode.acks) == 2


async def test_it_starts_when_the_token_is_good_and_the_bot_is_in_the_channel(
    slack: LocalSlack, socket_settings: Settings
) -> None:
    stop = asyncio.Event()
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(serve(socket_settings, "127.0.0.1", 0, stop=stop, ready=ready))
    assert await asyncio.wait_for(ready, 30) > 0
    stop.set()
    await asyncio.wait_for(serving, 60)
    assert [call.method for call in slack.calls()][:2] == ["auth.test", "conversations.info"]


@pytest.mark.parametrize("start", ["serve", "socket"])
async def test_it_keeps_one_connection_to_slack_for_its_calls(
    slack: LocalSlack, socket_settings: Settings, start: str
) -> None:
    stop = asyncio.Event()
    if start == "serve":
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        running = asyncio.create_task(
            serve(socket_settings, "127.0.0.1", 0, stop=stop, ready=ready)
        )
        await asyncio.wait_for(ready, 30)
    else:
        running = asyncio.create_task(serve_socket(socket_settings, stop=stop))
        await slack.socket_mode.wait_connected()
    stop.set()
    await asyncio.wait_for(running, 60)

    checks = [call for call in slack.calls() if call.method in ("auth.test", "conversations.info")]
    assert len(checks) == 2
    assert checks[0].peer == checks[1].peer != ""


async def test_it_would_open_a_connection_per_call_without_the_shared_session(
    slack: LocalSlack, socket_settings: Settings
) -> None:
    client = build_client(socket_settings)
    await client.auth_test()
    await client.auth_test()
    async with kept_alive(client):
        await client.auth_test()
        await client.auth_test()

    first, second, third, fourth = (call.peer for call in slack.calls("auth.test"))
    assert first != second
    assert third == fourth


@pytest.mark.parametrize("start", ["serve", "socket"])
async def test_it_stops_with_one_line_on_how_to_invite_the_bot_when_it_is_not_in_the_channel(
    slack: LocalSlack, socket_settings: Settings, start: str
) -> None:
    slack.add_channel(BACKOFFICE_CHANNEL, "backoffice", bot_member=False)

    with pytest.raises(ConfigurationError) as refused:
        if start == "serve":
            await serve(socket_settings, "127.0.0.1", 0, stop=asyncio.Event())
        else:
            await serve_socket(socket_settings, stop=asyncio.Event())

    assert str(refused.value) == (
        "the bot is not a member of the backoffice channel #backoffice (C0BACKOFFICE, "
        f"TENDERBOT_BACKOFFICE_CHANNEL): {INVITE}, then start again"
    )
    assert slack.calls("apps.connections.open") == []


async def test_it_names_a_refused_token_and_a_private_channel_without_the_bot(
    slack: LocalSlack, socket_settings: Settings
) -> None:
    slack.fail_next("auth.test", error="invalid_auth")
    with pytest.raises(ConfigurationError) as bad_token:
        await serve(socket_settings, "127.0.0.1", 0, stop=asyncio.Event())
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in str(bad_token.value)

    slack.add_channel(BACKOFFICE_CHANNEL, "backoffice", bot_member=False, private=True)
    with pytest.raises(ConfigurationError) as private:
        await serve(socket_settings, "127.0.0.1", 0, stop=asyncio.Event())
    assert "/invite @tenderbot in the channel" in str(private.value)


async def test_it_tells_the_operator_in_one_line_from_the_command_line(
    slack: LocalSlack,
    socket_settings: Settings,
    database_url: str,
    search_path: str | None,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack.add_channel(BACKOFFICE_CHANNEL, "backoffice", bot_member=False)
    monkeypatch.chdir(tmp_path)
    env = {
        "TENDERBOT_DATABASE_URL": database_url,
        "TENDERBOT_DATABASE_SCHEMA": search_path or "",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": slack.url,
        "TENDERBOT_BACKOFFICE_CHANNEL": BACKOFFICE_CHANNEL,
    }
    if not search_path:
        del env["TENDERBOT_DATABASE_SCHEMA"]

    result = await asyncio.to_thread(CliRunner().invoke, cli, ["socket"], env=env)

    assert result.exit_code == 2
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith("tenderbot: the bot is not a member of the backoffice channel #backoffice")
    )
    assert INVITE in result.output
    assert "Traceback" not in result.output
