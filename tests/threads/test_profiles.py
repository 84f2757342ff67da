"""The Slack profiles behind the names on mirrored posts: cached per author, bounded."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import threads_delivery


async def test_it_keeps_at_most_the_configured_number_of_slack_profiles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The name on a mirrored post comes from users.info, cached per author: bounded, so a
    # process that meets ever new users does not grow without end.
    class Slack:
        base_url = "https://slack.example/api/"

        def __init__(self) -> None:
            self.asked: list[str] = []

        async def users_info(self, user: str) -> dict[str, Any]:
            self.asked.append(user)
            return {"user": {"profile": {"real_name": f"Name {user}"}}}

    monkeypatch.setattr(threads_delivery, "_profiles", {})
    monkeypatch.setattr(threads_delivery, "PROFILE_CACHE_SIZE", 2)
    slack: Any = Slack()
    for user in ("U0ANNA", "U0BERND", "U0CARLA"):
        assert (await threads_delivery.profile_of(slack, user)).name == f"Name {user}"
    assert len(threads_delivery._profiles) == 2
    await threads_delivery.profile_of(slack, "U0CARLA")  # still cached
    await threads_delivery.profile_of(slack, "U0ANNA")  # the oldest, dropped: asked again
    assert slack.asked == ["U0ANNA", "U0BERND", "U0CARLA", "U0ANNA"]
