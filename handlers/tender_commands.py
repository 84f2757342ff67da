"""`/ausschreibung`: start a tender (modal or text) and list tenders (rules T1–T5)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.base import notice
from handlers.blocks.help import help_message
from handlers.blocks.modals import START_CALLBACK, StartPrefill, field_errors, start_modal
from handlers.blocks.restart import RESTART_ACTION
from handlers.blocks.tenders import RISK_MORE_ACTION, risk_modal, tender_list
from handlers.cards import deliver_now, queue_broker_notice, queue_cards
from handlers.context import (
    HELP_WORDS,
    TECHNICAL_ERROR,
    Request,
    Respond,
    acting,
    is_help,
    on_click,
    on_command,
    on_quick_command,
    reply,
    split_subcommand,
)
from handlers.deps import Deps
from handlers.parsing import InputError, parse_reference
from handlers.requests import (
    DESCRIPTION_BLOCK,
    START_BLOCKS,
    FormErrors,
    parse_start_form,
    parse_start_text,
)
from handlers.start_documents import (
    SHARE_WINDOW,
    dialog_files,
    recent_dm_files,
    refused_text,
    take_documents,
)
from pricing.formats import format_euro
from store.db import transaction
from store.errors import DomainError
from store.models import Tender, TenderStatus
from store.tender_input import StartTender
from store.tender_queries import broker_of, get_tender, tender_lines
from store.tenders import start_tender

logger = logging.getLogger(__name__)

COMMAND = "/ausschreibung"
UNKNOWN = (
    "„{word}“ kenne ich bei /ausschreibung nicht. Möglich sind: (nichts) für das Formular, "
    "`neu …`, `liste` oder `hilfe`."
)
QUICK_WORDS = frozenset({"liste", *HELP_WORDS})
BACKOFFICE_CANNOT_START = (
    "Eine Ausschreibung startet der Vermittler. Offene Ausschreibungen: `/ausschreibung liste`"
)


def started_text(tender: Tender, documents: int = 0) -> str:
    text = (
        f"Ihre Ausschreibung *{tender.reference}* ist gestartet. Die Anfragebestätigung "
        "steht in Ihrer Direktnachricht von tenderbot; Rückfragen des Backoffice kommen "
        "in deren Thread."
    )
    if documents:
        return text + f" Dokumente übernommen: {documents}."
    # rule T1: documents come with the dialog, or shared in the DM just before the command.
    return text + (
        " Dokumente geben Sie im Formular (`/ausschreibung`) mit, oder Sie teilen sie "
        f"höchstens {SHARE_WINDOW.seconds // 60} Minuten vor `/ausschreibung neu …` in der "
        "Direktnachricht mit tenderbot."
    )


async def start(deps: Deps, user_id: str, request: StartTender) -> tuple[Tender, list[int]]:
    """Start the tender and queue its two cards in one transaction (T4, T5)."""
    async with acting(deps, user_id) as unit:
        tender = await start_tender(unit.session, unit.actor, request)
        broker = await broker_of(unit.session, tender)
        return tender, await queue_cards(unit.session, deps, tender, broker)


async def tell_refused(deps: Deps, client: AsyncWebClient, tender: Tender, text: str) -> None:
    """The broker learns in the DM which documents were not taken (T1)."""
    async with transaction(deps.sessions) as session:
        broker = await broker_of(session, tender)
        rows = await queue_broker_notice(session, tender, broker, notice(text))
    await deliver_now(deps, client, rows)


async def starting(deps: Deps, request: Request) -> None:
    """No word opens the start dialog; ``neu …`` starts from the text (T1–T5)."""
    client, respond, user_id = request.client, request.respond, request.user_id
    word, rest = split_subcommand(request.text)
    if word == "":
        await open_start_modal(client, deps, user_id, request.trigger_id, respond)
        return
    if word != "neu":
        raise InputError(UNKNOWN.format(word=word))
    tender, cards = await start(deps, user_id, parse_start_text(rest))
    files = await recent_dm_files(client, deps, user_id)
    documents, refused = await take_documents(client, deps, user_id, tender, files)
    await reply(respond, started_text(tender, len(documents)))
    # The cards show the documents taken: delivered only now (see queue_cards).
    await deliver_now(deps, client, cards)
    if refused:
        await reply(respond, refused_text(tender.reference, refused))


def register(app: AsyncApp, deps: Deps) -> None:
    @on_click(app, RISK_MORE_ACTION, what="showing the whole risk")
    async def whole_risk(request: Request) -> None:
        async with acting(deps, request.user_id) as unit:
            reference = parse_reference(request.text)
            tender = await get_tender(unit.session, unit.actor, reference)
            view = risk_modal(tender)
        await request.client.views_open(trigger_id=request.trigger_id, view=view)

    # A list or the help is one read: the answer is the ack itself.
    @on_quick_command(app, COMMAND, when=lambda text: split_subcommand(text)[0] in QUICK_WORDS)
    async def ausschreibung_quick(user_id: str, text: str) -> dict[str, Any]:
        if is_help(split_subcommand(text)[0]):
            return help_message(COMMAND)
        return tender_list(await tender_lines(deps.sessions, user_id, deps.backoffice_users))

    on_command(app, COMMAND)(lambda request: starting(deps, request))

    @on_click(app, RESTART_ACTION, what="restarting a tender")
    async def restart(request: Request) -> None:
        reference = parse_reference(request.text)
        await open_restart_modal(
            request.client, deps, request.user_id, reference, request.trigger_id
        )

    @app.view(START_CALLBACK)
    async def start_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user_id = body["user"]["id"]
        try:
            request = parse_start_form(
                view["state"]["values"], previous=view.get("private_metadata") or None
            )
            tender, cards = await start(deps, user_id, request)
        except FormErrors as errors:
            await ack(**field_errors(errors.errors))
            return
        except DomainError as error:
            # A refusal naming no field is shown on the risk description.
            block = START_BLOCKS.get(error.field or "", DESCRIPTION_BLOCK)
            await ack(**field_errors({block: error.message_de}))
            return
        except Exception:
            logger.exception("starting a tender from the modal by %s failed", user_id)
            await ack(**field_errors({DESCRIPTION_BLOCK: TECHNICAL_ERROR}))
            return
        await ack()
        files = dialog_files(view["state"]["values"])
        _documents, refused = await take_documents(client, deps, user_id, tender, files)
        await deliver_now(deps, client, cards)
        if refused:
            await tell_refused(deps, client, tender, refused_text(tender.reference, refused))


async def open_restart_modal(
    client: AsyncWebClient, deps: Deps, user_id: str, reference: str, trigger_id: str
) -> None:
    """Rule T9: the start dialog, prefilled from the tender no insurer could offer for."""
    async with acting(deps, user_id) as unit:
        previous = await get_tender(unit.session, unit.actor, reference)
        if unit.actor.is_backoffice:
            raise InputError(BACKOFFICE_CANNOT_START)
        if previous.status != TenderStatus.NO_OFFERS:
            raise InputError(
                f"Die Ausschreibung {previous.reference} ist nicht mit „keine Angebote“ "
                "abgeschlossen; ein neuer Anlauf ist erst danach möglich."
            )
        prefill = restart_prefill(previous)
    await client.views_open(trigger_id=trigger_id, view=start_modal(prefill))


def restart_prefill(previous: Tender) -> StartPrefill:
    risk = previous.risk
    deductible = risk.get("deductible")
    return StartPrefill(
        previous_reference=previous.reference,
        product=previous.product_line.product,
        customer_name=previous.customer_name,
        deductible=format_euro(Decimal(str(deductible))) if deductible not in (None, "") else "",
        prior_claims=str(risk.get("prior_claims") or ""),
        description=str(risk.get("description") or ""),
        reason=previous.reason or "",
    )


async def open_start_modal(
    client: AsyncWebClient, deps: Deps, user_id: str, trigger_id: str, respond: Respond
) -> None:
    async with acting(deps, user_id) as unit:
        backoffice = unit.actor.is_backoffice
    if backoffice:
        await reply(respond, BACKOFFICE_CANNOT_START)
        return
    await client.views_open(trigger_id=trigger_id, view=start_modal())
