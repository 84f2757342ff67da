"""The App Home tab (`app_home_opened` → `views.publish`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.budget import HOME_ENTRIES
from handlers.blocks.home import (
    HOME_LIMIT,
    BackofficeHome,
    BrokerHome,
    OpenTender,
    backoffice_home,
    broker_home,
    stranger_home,
)
from handlers.context import today
from handlers.deps import Deps
from store.errors import NotABroker
from store.home import home_of

logger = logging.getLogger(__name__)


async def home_view(deps: Deps, slack_user_id: str) -> dict[str, Any]:
    try:
        home = await home_of(
            deps.sessions,
            slack_user_id,
            deps.backoffice_users,
            limit=HOME_LIMIT,
            entries=HOME_ENTRIES,
        )
    except NotABroker as error:
        return stranger_home(error.message_de)
    open_tenders = [OpenTender(item.tender, item.offer_count) for item in home.summary.open_tenders]
    if home.account is None:
        return backoffice_home(BackofficeHome(open_tenders))
    data = BrokerHome(
        name=home.actor.name,
        open_tenders=open_tenders,
        newest_offers=home.summary.newest_offers,
        balance=home.account.balance,
        credit_limit=home.account.credit_limit,
        entries=home.account.entries,
    )
    return broker_home(data, today=today(deps), zone=deps.zone)


async def publish_home(client: AsyncWebClient, deps: Deps, slack_user_id: str) -> None:
    try:
        await client.views_publish(user_id=slack_user_id, view=await home_view(deps, slack_user_id))
    except Exception:
        logger.exception("publishing the home tab of %s failed", slack_user_id)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await publish_home(client, deps, event["user"])
