"""`/rabatt` (P1–P5 with the broker's real account), `/budget` (B5) and `/verlauf` (M4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.blocks.base import escape, notice
from handlers.blocks.budget import budget_message
from handlers.blocks.help import help_message
from handlers.blocks.history import (
    NEXT_PAGE_ACTION,
    PREVIOUS_PAGE_ACTION,
    history_message,
    parse_page_value,
)
from handlers.context import Request, acting, is_help, on_click, on_command, on_quick_command
from handlers.deps import Deps
from handlers.parsing import parse_reference
from pricing import KombiRateTable, QueryError, answer_query
from store.brokers import broker_by_number
from store.budget import statement
from store.conversation import history
from store.documents import documents_of
from store.models import Broker

RABATT_COMMAND = "/rabatt"
BUDGET_COMMAND = "/budget"
HISTORY_COMMAND = "/verlauf"
BUDGET_ONLY_BROKERS = (
    "Ein Konzeptrabattkonto hat jeder Vermittler für sich; das Backoffice hat keins. "
    "Das Konto eines Vermittlers sehen Sie mit `/budget 4711` (seine Vermittlernummer)."
)
BUDGET_ONLY_OWN = "Sie sehen nur Ihr eigenes Konzeptrabattkonto: `/budget`"


def register(app: AsyncApp, deps: Deps) -> None:
    # Parsed once: a broken rate file is reported at start-up, not at the first query.
    kombi_table = KombiRateTable.from_toml(deps.kombi_rates_toml) if deps.kombi_rates_toml else None

    # One read and a calculation: the answer is the ack itself.
    @on_quick_command(app, RABATT_COMMAND)
    async def rabatt(user_id: str, text: str) -> dict[str, Any]:
        balance: Decimal | None = None
        credit: Decimal | None = None
        async with acting(deps, user_id) as unit:
            if unit.actor.broker_id is not None:
                account = await statement(unit.session, unit.actor.broker_id, limit=0)
                balance, credit = account.balance, account.credit_limit
        try:
            answer = answer_query(
                text,
                konzept_balance=balance,
                konzept_credit=credit,
                kombi_table=kombi_table,
            )
        except QueryError as error:
            return notice(escape(str(error)))
        return notice(escape(answer.to_text()))

    @on_quick_command(app, BUDGET_COMMAND)
    async def budget(user_id: str, text: str) -> dict[str, Any]:
        if is_help(text):
            return help_message(BUDGET_COMMAND)
        number = text.strip()
        async with acting(deps, user_id) as unit:
            owner: str | None = None
            if unit.actor.is_backoffice:
                if not number:
                    return notice(BUDGET_ONLY_BROKERS)
                broker = await broker_by_number(unit.session, number)
                broker_id, owner = broker.id, f"{broker.name} ({broker.number})"
            else:
                assert unit.actor.broker_id is not None
                broker_id = unit.actor.broker_id
                own = await unit.session.get(Broker, broker_id)
                if number and (own is None or own.number != number):
                    return notice(BUDGET_ONLY_OWN)
            account = await statement(unit.session, broker_id)
            return budget_message(account, deps.zone, owner=owner)

    @on_command(app, HISTORY_COMMAND)
    async def verlauf(request: Request) -> None:
        if is_help(request.text) or not request.text.strip():
            await request.respond(**help_message(HISTORY_COMMAND), response_type="ephemeral")
            return
        await request.respond(
            **await history_page(deps, request.user_id, parse_reference(request.text)),
            response_type="ephemeral",
        )

    @on_click(app, NEXT_PAGE_ACTION, PREVIOUS_PAGE_ACTION, what="turning the history page")
    async def turn_page(request: Request) -> None:
        reference, page = parse_page_value(request.text)
        await request.respond(
            **await history_page(deps, request.user_id, reference, page),
            response_type="ephemeral",
            replace_original=True,
        )


async def history_page(deps: Deps, user_id: str, reference: str, page: int = 1) -> dict[str, Any]:
    """Rule M4: the tender's conversation with its documents, one page of it."""
    async with acting(deps, user_id) as unit:
        messages = await history(unit.session, unit.actor, reference)
        documents = await documents_of(unit.session, unit.actor, reference)
    return history_message(reference, messages, deps.zone, page=page, documents=documents)
