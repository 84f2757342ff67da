"""The scheduler's settings: an operator's typo is one clear line, never a traceback."""

from __future__ import annotations

import pytest

from bot.settings import ConfigurationError, load_settings


def test_it_reads_lead_times_in_any_order_without_duplicates() -> None:
    settings = load_settings(TENDERBOT_REMINDER_DAYS="1, 14,7,7", TENDERBOT_BUDGET_DAY="12-31")
    assert settings.reminder_days == (14, 7, 1)
    assert settings.budget_month_day == (12, 31)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TENDERBOT_BUDGET_DAY", "7-1", "expected MM-DD"),
        ("TENDERBOT_BUDGET_DAY", "02-29", "expected MM-DD"),
        ("TENDERBOT_BUDGET_DAY", "13-01", "expected MM-DD"),
        ("TENDERBOT_REMINDER_DAYS", "7;1", "whole days separated by commas"),
        ("TENDERBOT_REMINDER_DAYS", "", "at least one lead time"),
        ("TENDERBOT_FOLLOWUP_WORKDAYS", "0", "greater than or equal to 1"),
        ("TENDERBOT_REPLY_DOMAIN", "antwort example", "expected a mail domain"),
        ("TENDERBOT_DATABASE_POOL_SIZE", "1", "greater than or equal to 2"),
    ],
)
def test_it_names_the_variable_of_a_bad_setting(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(**{variable: value})
    assert str(refused.value).startswith(f"invalid setting {variable}:")
    assert message in str(refused.value)


def test_it_wants_a_reply_secret_with_a_reply_domain() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(TENDERBOT_REPLY_DOMAIN="antwort.example.org", TENDERBOT_REPLY_SECRET="kurz")
    assert str(refused.value).startswith("invalid setting TENDERBOT_REPLY_SECRET:")

    settings = load_settings(
        TENDERBOT_REPLY_DOMAIN="Antwort.Example.org",
        TENDERBOT_REPLY_SECRET="lang-genug-und-geheim",
    )
    assert settings.reply_domain == "antwort.example.org"
    assert "lang-genug" not in repr(settings)
