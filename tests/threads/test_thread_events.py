"""Which Slack message events are thread messages of ours: the loop guard of the mirror."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.threads_events import Deleted, Edited, Posted, SlackFile, parse_thread_event

BOT = "U0TENDERBOT"
REPLY: dict[str, Any] = {
    "type": "message",
    "channel": "C0BACKOFFICE",
    "user": "U0BERND",
    "text": "Vorschäden?",
    "ts": "1767000001.000001",
    "thread_ts": "1767000000.000100",
}


def test_it_reads_a_reply_in_a_thread() -> None:
    assert parse_thread_event(REPLY, BOT) == Posted(
        channel="C0BACKOFFICE",
        thread_ts="1767000000.000100",
        ts="1767000001.000001",
        user="U0BERND",
        text="Vorschäden?",
        files=(),
    )


def test_it_reads_the_files_of_a_file_share() -> None:
    event = {
        **REPLY,
        "subtype": "file_share",
        "files": [
            {
                "id": "F01",
                "name": "liste.pdf",
                "mimetype": "application/pdf",
                "size": 12,
                "url_private": "https://files.example/F01/liste.pdf",
            }
        ],
    }
    parsed = parse_thread_event(event, BOT)
    assert isinstance(parsed, Posted)
    assert parsed.files == (
        SlackFile("F01", "liste.pdf", "application/pdf", 12, "https://files.example/F01/liste.pdf"),
    )


@pytest.mark.parametrize(
    "event",
    [
        {**REPLY, "bot_id": "B0OTHER"},
        {**REPLY, "user": BOT},
        {**REPLY, "subtype": "bot_message"},
        {**REPLY, "subtype": "thread_broadcast"},
        {**REPLY, "subtype": "channel_join"},
        {**REPLY, "thread_ts": REPLY["ts"]},  # the thread's parent itself
        {key: value for key, value in REPLY.items() if key != "thread_ts"},  # top level
        {**REPLY, "type": "app_mention"},
    ],
    ids=["other-bot", "ourselves", "bot-message", "broadcast", "join", "parent", "top", "mention"],
)
def test_it_ignores_what_is_not_a_person_writing_in_a_thread(event: dict[str, Any]) -> None:
    assert parse_thread_event(event, BOT) is None


def test_it_reads_an_edit_of_a_thread_reply_but_not_of_our_own_posts() -> None:
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C0BACKOFFICE",
        "message": {**REPLY, "text": "Vorschäden seit 2020?"},
    }
    assert parse_thread_event(edit, BOT) == Edited(
        "C0BACKOFFICE", "1767000001.000001", "U0BERND", "Vorschäden seit 2020?"
    )
    ours = {**edit, "message": {**REPLY, "user": BOT, "bot_id": "B0TENDERBOT"}}
    assert parse_thread_event(ours, BOT) is None


def test_it_reads_a_deletion_by_its_author() -> None:
    deletion = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "C0BACKOFFICE",
        "deleted_ts": "1767000001.000001",
        "previous_message": REPLY,
    }
    assert parse_thread_event(deletion, BOT) == Deleted(
        "C0BACKOFFICE", "1767000001.000001", "U0BERND"
    )
    assert parse_thread_event({**deletion, "previous_message": None}, BOT) is None


def test_it_reads_the_text_as_typed_not_as_slack_escapes_it() -> None:
    # Slack sends "&", "<" and ">" as entities; escaping them again showed "&amp;" to readers.
    event = {**REPLY, "text": "Schaden &lt;5.000 € &amp; Wasser&gt; (&amp;lt; bleibt)"}
    parsed = parse_thread_event(event, BOT)
    assert isinstance(parsed, Posted)
    assert parsed.text == "Schaden <5.000 € & Wasser> (&lt; bleibt)"
