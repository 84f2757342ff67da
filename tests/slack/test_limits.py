"""The local Slack refuses what Slack refuses, so no test and no demo can overrun a limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack
from bot.localslack.limits import message_problems, view_problems
from bot.personas import ANNA
from tests.conftest import add_personas


@pytest.fixture
async def strict() -> AsyncIterator[LocalSlack]:
    # Not the shared fixture: that one fails a test on any refusal, these provoke them.
    async with LocalSlack() as local:
        add_personas(local)
        yield local


def client_for(slack: LocalSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as error:
        await call
    return dict(error.value.response.data)


async def test_it_refuses_a_section_over_3000_characters_like_slack(strict: LocalSlack) -> None:
    client = client_for(strict)
    answer = await refused(
        client.chat_postMessage(channel=ANNA, text="lang", blocks=[section("x" * 3001)])
    )
    assert answer["ok"] is False
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] == [
        "must be at most 3000 characters [json-pointer:/blocks/0/text/text]",
        "text attribute cannot exceed 3000 characters [json-pointer:/blocks/0]",
    ]
    assert answer["response_metadata"]["messages"][0].startswith("[ERROR] must be at most 3000")
    assert strict.messages("D0ANNA") == []
    assert [call.method for call in strict.refusals()] == ["chat.postMessage"]


async def test_it_takes_a_section_of_exactly_3000_characters(strict: LocalSlack) -> None:
    client = client_for(strict)
    await client.chat_postMessage(channel=ANNA, text="lang", blocks=[section("x" * 3000)])
    assert len(strict.messages("D0ANNA")) == 1
    assert strict.refusals() == []


async def test_it_refuses_blocks_without_fallback_text(strict: LocalSlack) -> None:
    client = client_for(strict)
    posted = await client.chat_postMessage(channel=ANNA, text="erst", blocks=[section("erst")])
    # slack_sdk itself warns; Slack would post it without a notification text.
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        for call in (
            client.chat_postMessage(channel=ANNA, blocks=[section("ohne Text")]),
            client.chat_update(channel="D0ANNA", ts=posted["ts"], blocks=[section("neu")]),
            client.chat_postEphemeral(channel="D0ANNA", user=ANNA, blocks=[section("für Anna")]),
        ):
            assert (await refused(call))["error"] == "no_text"
    assert strict.messages("D0ANNA")[0]["blocks"] == [section("erst")]


async def test_it_refuses_more_than_50_blocks_in_a_message(strict: LocalSlack) -> None:
    client = client_for(strict)
    answer = await refused(
        client.chat_postMessage(channel=ANNA, text="viel", blocks=[section("x")] * 51)
    )
    assert answer["errors"][0] == "must contain at most 50 items [json-pointer:/blocks]"


async def test_it_refuses_a_view_over_slacks_limits(strict: LocalSlack) -> None:
    client = client_for(strict)
    too_long_input = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Ausschreibung starten"},
        "blocks": [
            {
                "type": "input",
                "block_id": "description",
                "label": {"type": "plain_text", "text": "Risikobeschreibung"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 4000,
                },
            }
        ],
    }
    answer = await refused(client.views_open(trigger_id="1.2.3", view=too_long_input))
    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == [
        "[ERROR] must be between 1 and 3000 [json-pointer:/view/blocks/0/element/max_length]"
    ]
    home = {"type": "home", "blocks": [section("x")] * 101}
    answer = await refused(client.views_publish(user_id=ANNA, view=home))
    assert "must contain at most 100 items [json-pointer:/view/blocks]" in answer["errors"]
    assert strict.view("V000000001") is None and strict.home(ANNA) is None


async def test_it_answers_a_refused_response_url_post_with_400(strict: LocalSlack) -> None:
    url = strict.response_url(ANNA, "D0ANNA")
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json={"text": "x", "blocks": [section("x" * 3001)]}) as response,
    ):
        assert response.status == 400
        assert await response.text() == "invalid_blocks"
    assert strict.responses() == []
    assert [call.method for call in strict.refusals()] == ["response_url"]


@pytest.mark.parametrize(
    ("element", "pointer"),
    [
        (
            {"type": "button", "text": {"type": "plain_text", "text": "B" * 76}, "action_id": "a"},
            "/blocks/0/elements/0/text/text",
        ),
        (
            {"type": "button", "text": {"type": "plain_text", "text": "B"}, "action_id": "a" * 256},
            "/blocks/0/elements/0/action_id",
        ),
        (
            {
                "type": "static_select",
                "action_id": "a",
                "placeholder": {"type": "plain_text", "text": "wählen"},
                "options": [
                    {"text": {"type": "plain_text", "text": f"O{i}"}, "value": str(i)}
                    for i in range(101)
                ],
            },
            "/blocks/0/elements/0/options",
        ),
    ],
    ids=["button-text", "action-id", "options"],
)
def test_it_names_the_element_that_overruns(element: dict[str, Any], pointer: str) -> None:
    problems = message_problems(
        {"text": "t", "blocks": [{"type": "actions", "elements": [element]}]}
    )
    assert any(problem.endswith(f"[json-pointer:{pointer}]") for problem in problems)


def test_it_checks_headers_and_context_elements() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "H" * 151}}
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}
    problems = message_problems({"text": "t", "blocks": [header, context]})
    assert "must be at most 150 characters [json-pointer:/blocks/0/text/text]" in problems
    assert "must contain at most 10 items [json-pointer:/blocks/1/elements]" in problems


def test_it_checks_a_views_title() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "T" * 25},
        "blocks": [section("x")],
    }
    assert "must be at most 24 characters [json-pointer:/view/title/text]" in view_problems(view)


async def test_it_refuses_a_message_with_too_much_block_text(strict: LocalSlack) -> None:
    # Every section within 3000, but Slack answers msg_blocks_too_long past about 13,200.
    client = client_for(strict)
    answer = await refused(
        client.chat_postMessage(channel=ANNA, text="lang", blocks=[section("x" * 3000)] * 5)
    )
    assert answer["error"] == "msg_blocks_too_long"
    await client.chat_postMessage(channel=ANNA, text="lang", blocks=[section("x" * 3000)] * 4)
    assert len(strict.messages("D0ANNA")) == 1
