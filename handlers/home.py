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
from handlers.context import acting, today
from handlers.deps import Deps
from store.budget import statement
from store.errors import NotABroker
from store.tender_queries import home_summary

logger = logging.getLogger(__name__)


async def home_view(deps: Deps, slack_user_id: str) -> dict[str, Any]:
    try:
        async with acting(deps, slack_user_id) as unit:
            summary = await home_summary(unit.session, unit.actor, HOME_LIMIT)
            open_tenders = [
                OpenTender(item.tender, item.offer_count) for item in summary.open_tenders
            ]
            if unit.actor.broker_id is None:
                return backoffice_home(BackofficeHome(open_tenders))
            account = await statement(unit.session, unit.actor.broker_id, limit=HOME_ENTRIES)
            data = BrokerHome(
                name=unit.actor.name,
                open_tenders=open_tenders,
                newest_offers=summary.newest_offers,
                balance=account.balance,
                credit_limit=account.credit_limit,
                entries=account.entries,
            )
    except NotABroker as error:
        return stranger_home(error.message_de)
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
