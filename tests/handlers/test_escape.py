"""User text can never form a mention, a link or a broadcast."""

from __future__ import annotations

from handlers.blocks.base import escape


def test_it_escapes_the_three_characters_slack_reads_as_markup() -> None:
    assert escape("Müller & Söhne <GmbH>") == "Müller &amp; Söhne &lt;GmbH&gt;"


def test_it_defuses_mentions_and_links() -> None:
    assert escape("<!channel> <@U0BERND> <https://evil.example|Angebot>") == (
        "&lt;!channel&gt; &lt;@U0BERND&gt; &lt;https://evil.example|Angebot&gt;"
    )


def test_it_defuses_plain_broadcast_words_but_not_e_mail_addresses() -> None:
    assert escape("@here @Channel @everyone") == "@\u200bhere @\u200bChannel @\u200beveryone"
    assert escape("anna@hereford.example") == "anna@hereford.example"


def test_it_escapes_an_ampersand_once_so_entities_stay_visible_as_typed() -> None:
    assert escape("&amp;") == "&amp;amp;"
