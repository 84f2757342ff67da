"""The Slack platform: signed requests through the real HTTP endpoint, against a local Slack."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import GENERIC_ERROR_DE
from bot.cli.main import cli
from bot.demo import Demo, DemoStepFailed, run_demo
from bot.http import open_database
from bot.localslack import LocalSlack, SignedSender
from bot.localslack.render import render_blocks, render_view
from bot.localslack.running import RunningApp, running_app
from bot.personas import ANNA
from bot.schema import SchemaNotCurrent
from bot.settings import Settings, load_settings
from bot.slack_client import build_client
from store.brokers import BrokerData, add_broker
from store.db import make_engine, make_sessionmaker, transaction
from store.models import Broker
from tests.conftest import BACKOFFICE_CHANNEL, BERND


def listen_and_write(app: AsyncApp, sessions: async_sessionmaker[AsyncSession]) -> None:
    """A tiny listener with a visible effect in Slack and in the store."""

    @app.command("/probe")
    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack("Einen Moment …")
        async with transaction(sessions) as session:
            await add_broker(
                session,
                BrokerData(
                    slack_user_id=body["user_id"],
                    number="9999",
                    name="Probe",
                    email="probe@example.org",
                ),
            )
        await client.chat_postMessage(channel=body["user_id"], text=f"liste: {body['text']}")


async def broker_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Broker)) or 0)


async def test_it_runs_a_signed_slash_command_through_the_real_app(
    app: AsyncApp,
    sessions: async_sessionmaker[AsyncSession],
    slack: LocalSlack,
    slack_request: SignedSender,
) -> None:
    listen_and_write(app, sessions)

    response = await slack_request.send_command(ANNA, "/probe", "liste")

    assert response.status == 200
    assert response.text == "Einen Moment …"
    await slack.wait_for(lambda: len(slack.messages("D0ANNA")) == 1)
    assert slack.messages("D0ANNA")[0]["text"] == "liste: liste"
    assert await broker_count(sessions) == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Slack-Signature": "v0=" + "0" * 64}, id="wrong-signature"),
        pytest.param({}, id="unsigned"),
    ],
)
async def test_it_refuses_a_badly_signed_request_with_401_and_changes_nothing(
    app: AsyncApp,
    sessions: async_sessionmaker[AsyncSession],
    slack: LocalSlack,
    slack_request: SignedSender,
    headers: dict[str, str],
) -> None:
    listen_and_write(app, sessions)
    body = slack_request.command_body(ANNA, "/probe", "liste")
    form = "&".join(f"{key}={value}" for key, value in body.items())
    if headers:
        headers = {**headers, "X-Slack-Request-Timestamp": str(int(time.time()))}

    response = await slack_request.post(form, "application/x-www-form-urlencoded", headers)

    assert response.status == 401
    assert await broker_count(sessions) == 0
    assert slack.calls("chat.postMessage") == []


async def test_it_refuses_a_correctly_signed_but_stale_request(
    app: AsyncApp,
    sessions: async_sessionmaker[AsyncSession],
    slack: LocalSlack,
    slack_request: SignedSender,
) -> None:
    listen_and_write(app, sessions)
    body = json.dumps({"type": "url_verification", "challenge": "abc"})
    ten_minutes_ago = int(time.time()) - 600

    response = await slack_request.post(
        body, "application/json", slack_request.signed_headers(body, timestamp=ten_minutes_ago)
    )

    assert response.status == 401
    assert "abc" not in response.text


async def test_it_answers_slacks_url_verification_challenge(
    slack_request: SignedSender,
) -> None:
    response = await slack_request.post_json(
        {
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )

    assert response.status == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_it_reports_healthy_when_the_database_answers(served: RunningApp) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{served.base_url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok"}


async def test_it_reports_503_when_the_database_is_unreachable(
    slack_settings: Settings, slack: LocalSlack, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/none.db")
    try:
        async with (
            running_app(slack_settings, make_sessionmaker(engine), slack) as running,
            aiohttp.ClientSession() as http,
            http.get(f"{running.base_url}/healthz") as response,
        ):
            assert response.status == 503
            assert await response.json() == {"status": "error", "database": "unreachable"}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("status", [429, 500])
async def test_it_retries_a_rate_limited_or_failed_post_and_delivers_it_once(
    app: AsyncApp,
    sessions: async_sessionmaker[AsyncSession],
    slack: LocalSlack,
    slack_request: SignedSender,
    status: int,
) -> None:
    listen_and_write(app, sessions)
    slack.fail_next("chat.postMessage", status=status)

    await slack_request.send_command(ANNA, "/probe", "liste")

    calls = await slack.wait_for_calls("chat.postMessage", count=2)
    assert [call.status for call in calls] == [status, 200]
    assert len(slack.messages("D0ANNA")) == 1


async def test_it_acknowledges_before_the_slow_work_is_done(
    app: AsyncApp, slack: LocalSlack, slack_request: SignedSender
) -> None:
    release = asyncio.Event()

    @app.command("/probe")
    async def slow(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await release.wait()
        await client.chat_postMessage(channel=body["user_id"], text="fertig")

    response = await slack_request.send_command(ANNA, "/probe", "liste")

    # The HTTP answer is here while the listener still waits: the ack did not wait for it.
    assert response.status == 200
    assert slack.messages("D0ANNA") == []
    release.set()
    await slack.wait_for(lambda: len(slack.messages("D0ANNA")) == 1)


async def test_it_tells_the_user_in_german_when_a_listener_fails_without_leaking_details(
    app: AsyncApp, slack: LocalSlack, slack_request: SignedSender
) -> None:
    @app.command("/probe-fehler")
    async def broken(ack: AsyncAck) -> None:
        raise RuntimeError("secret internals: connection string postgres://x")

    response = await slack_request.send_command(
        BERND, "/probe-fehler", "", channel_id=BACKOFFICE_CHANNEL
    )

    assert response.status == 200
    assert "secret" not in response.text
    await slack.wait_for(lambda: len(slack.ephemerals(BERND)) == 1)
    notice = slack.ephemerals(BERND)[0]
    assert notice["text"] == GENERIC_ERROR_DE
    assert notice["channel"] == BACKOFFICE_CHANNEL


async def test_it_shows_a_posted_thread_with_replies_and_serves_uploaded_files(
    slack: LocalSlack, slack_settings: Settings
) -> None:
    client = build_client(slack_settings)
    parent = await client.chat_postMessage(channel=BACKOFFICE_CHANNEL, text="Karte")
    await client.chat_postMessage(channel=BACKOFFICE_CHANNEL, text="Frage", thread_ts=parent["ts"])
    upload = await client.files_upload_v2(
        channel=BACKOFFICE_CHANNEL,
        thread_ts=parent["ts"],
        filename="police.pdf",
        content=b"%PDF-1.7 police",
        initial_comment="Anhang",
    )

    replies = await client.conversations_replies(channel=BACKOFFICE_CHANNEL, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["Karte", "Frage", "Anhang"]
    file_id = upload["file"]["id"]
    assert slack.file_content(file_id) == b"%PDF-1.7 police"
    token = {"Authorization": "Bearer xoxb-test"}
    url = upload["file"]["url_private"]
    async with aiohttp.ClientSession() as http, http.get(url, headers=token) as download:
        assert await download.read() == b"%PDF-1.7 police"


async def test_it_fails_the_next_call_with_slacks_error_when_told(
    slack: LocalSlack, slack_settings: Settings
) -> None:
    client = build_client(slack_settings)
    slack.fail_next("chat.postMessage", error="is_archived")

    with pytest.raises(SlackApiError) as failure:
        await client.chat_postMessage(channel=BACKOFFICE_CHANNEL, text="Karte")
    posted = await client.chat_postMessage(channel=BACKOFFICE_CHANNEL, text="Karte")

    assert failure.value.response["error"] == "is_archived"
    assert posted["ok"] is True
    assert len(slack.messages(BACKOFFICE_CHANNEL)) == 1


async def test_it_plays_the_demo_tender_from_start_to_offer_list(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    lines: list[str] = []
    await run_demo(database_url, lines.append, mails=tmp_path / "mails", sessions=sessions)

    text = "\n".join(lines)
    assert re.search(r"  ┄ #backoffice\n    == Ausschreibung AS-\d{4}-0001 ==", text)  # T5
    assert "  ┄ E-Mail an anna@makler-adler.example" in text  # rule N1
    assert "  ┄ E-Mail an assistenz@makler-adler.example" in text
    # B1: 3 % of 50.000 € Zugangsart 1; the 20.000 € of Zugangsart 2 do not count.
    assert "an 1 Vermittler verteilt: 1.500,00\xa0€" in text
    assert re.search(r"Angebot zu AS-\d{4}-0001 läuft in 7 Tagen ab", text)  # rule T10
    assert "Sie können keine Unterhaltung mit dem Backoffice beginnen" in text  # rule M2
    assert "📎 Datei geteilt: schadenliste-2021-2025.pdf" in text  # rule M3
    # Answer by e-mail: the query e-mail's reply address takes Anna's answer into the threads.
    assert "    Antwort an: antwort+" in text
    assert "mail-in antwortet: 2.0.0 Ihre Antwort ist angekommen" in text
    assert re.search(
        r"┄ #backoffice \(im Thread\)\n    Anna Adler \(Vermittler\): Nachtrag: .*\n.*per E-Mail",
        text,
    )
    # The platform bridge: calculator offer next to the tender's (T2, T7) and locked (T6),
    # a policy charged, one refused (P3) and a Storno credited back (B4).
    assert "⚪ Tarifrechner · *Rheinland Versicherung* – 1.180,00\xa0€" in text
    assert "Antwort 409: Für die Sparte Betriebshaftpflicht" in text
    assert "Antwort 200: Konzeptrabatt 250,00\xa0€ für HV-2026-1001 gebucht." in text
    assert "Antwort 409: Guthaben 1.250,00\xa0€ plus Kredit 0,00\xa0€" in text
    assert "Antwort 200: Storno ab Beginn: 250,00\xa0€ für HV-2026-1001 gutgeschrieben." in text
    assert "Police HV-2026-1001 · Ausschreibung AS-" in text
    assert "Slack lehnt" not in text
    assert "(HTTP " not in text


async def test_it_stops_the_demo_when_slack_refuses_a_payload(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async def overrun(demo: Demo) -> None:
        client = AsyncWebClient(token="xoxb-local", base_url=demo.slack.url)
        too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel=BACKOFFICE_CHANNEL, text="x", blocks=[too_long])

    with pytest.raises(DemoStepFailed) as stopped:
        await run_demo(database_url, [].append, [overrun], mails=tmp_path / "m", sessions=sessions)
    assert str(stopped.value) == (
        "Slack lehnt chat.postMessage ab (1 Mal): "
        "must be at most 3000 characters [json-pointer:/blocks/0/text/text]"
    )


async def test_it_delivers_a_signed_event_with_slacks_retry_headers(
    app: AsyncApp, slack: LocalSlack, slack_request: SignedSender
) -> None:
    seen: list[tuple[str, list[str]]] = []

    @app.event("reaction_added")
    async def reaction(event: dict[str, Any], request: AsyncBoltRequest) -> None:
        seen.append((event["reaction"], list(request.headers.get("x-slack-retry-num", []))))

    first = await slack_request.send_event(
        {"type": "reaction_added", "user": ANNA, "reaction": "eyes"}, event_id="Ev1"
    )
    retry = await slack_request.send_event(
        {"type": "reaction_added", "user": ANNA, "reaction": "eyes"}, event_id="Ev1", retry_num=1
    )

    assert (first.status, retry.status) == (200, 200)
    await slack.wait_for(lambda: len(seen) == 2)
    assert sorted(seen) == [("eyes", []), ("eyes", ["1"])]


async def test_it_has_a_listener_for_every_slash_command_in_the_manifest(
    slack_request: SignedSender,
) -> None:
    manifest = (Path(__file__).parents[2] / "manifest.yml").read_text(encoding="utf-8")
    commands = re.findall(r"- command: (/\S+)", manifest)

    statuses = {
        command: (await slack_request.send_command(ANNA, command, "hilfe")).status
        for command in commands
    }

    # Bolt answers 404 for a request no listener matched.
    assert statuses == dict.fromkeys(
        ["/ausschreibung", "/angebote", "/angebot", "/rabatt", "/budget", "/verlauf"], 200
    )
    assert manifest.count("\n      url: https://tenderbot.example/slack/events") == len(commands)
    assert manifest.count("request_url: https://tenderbot.example/slack/events") == 2
    for event in ("app_home_opened", "message.channels", "message.im", "file_shared"):
        assert f"      - {event}\n" in manifest


async def test_it_refuses_to_serve_a_database_that_is_not_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    settings = load_settings(database_url=url)

    with pytest.raises(SchemaNotCurrent) as refusal:
        await open_database(settings, migrate=False)
    engine, _sessions = await open_database(settings, migrate=True)
    await engine.dispose()

    assert "run `tenderbot db upgrade` or start with `tenderbot serve --migrate`" in str(
        refusal.value
    )


def test_it_tells_the_operator_what_is_missing_instead_of_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TENDERBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-wrong-kind")
    runner = CliRunner()

    serve = runner.invoke(cli, ["serve", "--port", "8999"])
    socket = runner.invoke(cli, ["socket"])

    assert serve.exit_code == 1
    assert "is at no schema, expected" in serve.output
    assert socket.exit_code == 2
    assert "SLACK_APP_TOKEN must be an app-level token starting with xapp-" in socket.output
    assert "Traceback" not in serve.output + socket.output


def test_it_renders_a_tender_card_as_the_text_a_person_reads() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Ausschreibung AS-2026-0001"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Kunde:* Korn &amp; Söhne &lt;GmbH&gt;, <@U0ANNA>"},
            "fields": [{"type": "mrkdwn", "text": "*Selbstbeteiligung*\n1.000,00 €"}],
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Details: <https://x.example/as|hier>"}],
        },
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Angebot einstellen"}},
                {"type": "button", "text": {"type": "plain_text", "text": "Keine Angebote"}},
            ],
        },
    ]

    text = render_blocks(blocks, "Fallback", names={"U0ANNA": "Anna Adler"})

    assert text == (
        "== Ausschreibung AS-2026-0001 ==\n"
        "*Kunde:* Korn & Söhne <GmbH>, @Anna Adler\n"
        "  *Selbstbeteiligung* 1.000,00 €\n" + "─" * 40 + "\n"
        "  Details: hier (https://x.example/as)\n"
        "  [Angebot einstellen] [Keine Angebote]"
    )
    assert render_blocks([], "Nur &lt;Text&gt;") == "Nur <Text>"


def test_it_renders_a_modal_with_its_inputs_and_buttons() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Ausschreibung starten"},
        "submit": {"type": "plain_text", "text": "Starten"},
        "close": {"type": "plain_text", "text": "Abbrechen"},
        "blocks": [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Kunde"},
                "element": {"type": "plain_text_input", "action_id": "kunde"},
            },
            {
                "type": "input",
                "optional": True,
                "label": {"type": "plain_text", "text": "Grund"},
                "element": {
                    "type": "static_select",
                    "placeholder": {"type": "plain_text", "text": "bitte wählen"},
                },
            },
        ],
    }

    assert render_view(view) == (
        "┌ Ausschreibung starten\n"
        "Kunde: […]\n"
        "Grund (optional): [Auswahl: bitte wählen ▾]\n"
        "[Abbrechen] [Starten]"
    )


async def test_it_keeps_slash_command_replies_for_the_user_who_typed_them(
    app: AsyncApp, slack: LocalSlack, slack_request: SignedSender
) -> None:
    @app.command("/probe")
    async def replies(ack: AsyncAck, respond: Any) -> None:
        await ack()
        await respond(text="nur für dich")
        await respond(text="für alle", response_type="in_channel")

    await slack_request.send_command(BERND, "/probe", channel_id=BACKOFFICE_CHANNEL)

    await slack.wait_for(lambda: len(slack.calls("response_url")) == 2)
    assert [(r["user"], r["channel"], r["text"]) for r in slack.responses()] == [
        (BERND, BACKOFFICE_CHANNEL, "nur für dich")
    ]
    assert [m["text"] for m in slack.messages(BACKOFFICE_CHANNEL)] == ["für alle"]


async def test_it_answers_the_web_api_like_slack_for_dms_users_views_and_reactions(
    slack: LocalSlack, slack_settings: Settings
) -> None:
    client = build_client(slack_settings)

    dm = await client.conversations_open(users=ANNA)
    posted = await client.chat_postMessage(channel=ANNA, text="Hallo Anna")
    await client.reactions_add(channel=dm["channel"]["id"], timestamp=posted["ts"], name="eyes")
    anna = await client.users_info(user=ANNA)
    home = await client.views_publish(
        user_id=ANNA, view={"type": "home", "blocks": [{"type": "divider"}]}
    )
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U0NOBODY")

    assert dm["channel"]["id"] == posted["channel"] == "D0ANNA"
    assert slack.messages("D0ANNA")[0]["reactions"][0]["name"] == "eyes"
    assert anna["user"]["real_name"] == "Anna Adler"
    assert slack.home(ANNA) == home["view"]
    assert unknown.value.response["error"] == "user_not_found"
    assert [call.method for call in slack.calls()] == [
        "conversations.open",
        "chat.postMessage",
        "reactions.add",
        "users.info",
        "views.publish",
        "users.info",
    ]
