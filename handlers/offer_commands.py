"""Offers: `/angebote` with „Auswählen“ (T7, T8), `/angebot` and the card buttons (T9)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.base import escape
from handlers.blocks.help import help_message
from handlers.blocks.modals import OFFER_CALLBACK, field_errors, offer_modal
from handlers.blocks.offers import (
    NEXT_PAGE_ACTION,
    PREVIOUS_PAGE_ACTION,
    SELECT_ACTION,
    offer_selected,
    offers_message,
    parse_page_value,
    parse_select_value,
)
from handlers.blocks.restart import no_offers_notice
from handlers.blocks.tenders import NO_OFFERS_ACTION, OFFER_OPEN_ACTION
from handlers.cards import deliver_now, queue_broker_notice, queue_card_update
from handlers.context import (
    TECHNICAL_ERROR,
    Request,
    acting,
    is_help,
    on_click,
    on_command,
    reply,
    today,
)
from handlers.deps import Deps
from handlers.parsing import parse_reference
from handlers.requests import (
    INSURER_BLOCK,
    PREMIUM_BLOCK,
    VALID_UNTIL_BLOCK,
    FormErrors,
    NewOffer,
    parse_offer_form,
    parse_offer_text,
)
from pricing.formats import format_cents
from store.actors import require_backoffice
from store.errors import DomainError
from store.models import Offer, Tender
from store.products import product_label
from store.tender_queries import broker_of, get_tender, offer_overview
from store.tenders import add_offer, mark_no_offers, select_offer

logger = logging.getLogger(__name__)

OFFERS_COMMAND = "/angebote"
OFFER_COMMAND = "/angebot"
ADD_OFFERS = "Angebote einstellen"


def offer_added_text(tender: Tender, offer: Offer) -> str:
    return (
        f"Angebot von *{escape(offer.insurer)}* ({format_cents(offer.premium_cents)}) für "
        f"{tender.reference} eingestellt. Der Vermittler wird per Slack und E-Mail "
        "benachrichtigt."
    )


# The offer modal's input for each field add_offer names; other refusals (closed tender,
# backoffice only) go on the first input.
FIELD_BLOCKS = {
    "insurer": INSURER_BLOCK,
    "premium": PREMIUM_BLOCK,
    "valid_until": VALID_UNTIL_BLOCK,
}


def _offer_block_for(error: DomainError) -> str:
    return FIELD_BLOCKS.get(error.field or "", INSURER_BLOCK)


async def _add(deps: Deps, user_id: str, new: NewOffer) -> tuple[Tender, Offer, list[int]]:
    async with acting(deps, user_id) as unit:
        offer = await add_offer(
            unit.session,
            unit.actor,
            new.reference,
            insurer=new.insurer,
            premium=new.premium,
            valid_until=new.valid_until,
            today=today(deps),
        )
        tender = await get_tender(unit.session, unit.actor, new.reference)
        return tender, offer, await queue_card_update(unit.session, deps, tender)


async def _open_offer_modal(
    client: AsyncWebClient, deps: Deps, user_id: str, reference: str, trigger_id: str
) -> None:
    async with acting(deps, user_id) as unit:
        require_backoffice(unit.actor, ADD_OFFERS)
        tender = await get_tender(unit.session, unit.actor, reference)
        view = offer_modal(
            tender.reference, tender.customer_name, product_label(tender.product_line.product)
        )
    await client.views_open(trigger_id=trigger_id, view=view)


def register(app: AsyncApp, deps: Deps) -> None:
    @on_command(app, OFFERS_COMMAND)
    async def angebote(request: Request) -> None:
        if is_help(request.text) or not request.text.strip():
            await request.respond(**help_message(OFFERS_COMMAND), response_type="ephemeral")
            return
        reference = parse_reference(request.text)
        async with acting(deps, request.user_id) as unit:
            overview = await offer_overview(unit.session, unit.actor, reference)
            message = offers_message(
                overview, today=today(deps), broker_view=not unit.actor.is_backoffice
            )
        await request.respond(**message, response_type="ephemeral")

    @on_click(app, NEXT_PAGE_ACTION, PREVIOUS_PAGE_ACTION, what="turning the offers page")
    async def turn_page(request: Request) -> None:
        reference, page = parse_page_value(request.text)
        async with acting(deps, request.user_id) as unit:
            overview = await offer_overview(unit.session, unit.actor, reference)
            message = offers_message(
                overview, today=today(deps), broker_view=not unit.actor.is_backoffice, page=page
            )
        await request.respond(**message, response_type="ephemeral", replace_original=True)

    @on_click(app, SELECT_ACTION, what="selecting an offer")
    async def select(request: Request) -> None:
        reference, offer_id = parse_select_value(request.text)
        async with acting(deps, request.user_id) as unit:
            tender = await select_offer(
                unit.session,
                unit.actor,
                reference,
                offer_id,
                today=today(deps),
                contact=deps.contact,
            )
            overview = await offer_overview(unit.session, unit.actor, reference)
            message = offers_message(overview, today=today(deps), broker_view=True)
            (chosen,) = [
                offer
                for offer in (*overview.from_tender, *overview.calculator)
                if offer.id == offer_id
            ]
            confirmation = offer_selected(tender, chosen)
            update = await queue_card_update(unit.session, deps, tender)
        # The overview loses its buttons; the confirmation says how it goes on (T8).
        await request.respond(**message, response_type="ephemeral", replace_original=True)
        await request.respond(**confirmation, response_type="ephemeral", replace_original=False)
        await deliver_now(deps, request.client, update)

    @on_command(app, OFFER_COMMAND)
    async def angebot(request: Request) -> None:
        if is_help(request.text) or not request.text.strip():
            await request.respond(**help_message(OFFER_COMMAND), response_type="ephemeral")
            return
        parsed = parse_offer_text(request.text)
        if isinstance(parsed, str):
            await _open_offer_modal(
                request.client, deps, request.user_id, parsed, request.trigger_id
            )
            return
        tender, offer, update = await _add(deps, request.user_id, parsed)
        await reply(request.respond, offer_added_text(tender, offer))
        await deliver_now(deps, request.client, update)

    @on_click(app, OFFER_OPEN_ACTION, what="opening the offer modal")
    async def offer_open(request: Request) -> None:
        reference = parse_reference(request.text)
        await _open_offer_modal(
            request.client, deps, request.user_id, reference, request.trigger_id
        )

    @app.view(OFFER_CALLBACK)
    async def offer_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user_id = body["user"]["id"]
        try:
            new = parse_offer_form(view["private_metadata"], view["state"]["values"])
            tender, offer, update = await _add(deps, user_id, new)
        except FormErrors as errors:
            await ack(**field_errors(errors.errors))
            return
        except DomainError as error:
            await ack(**field_errors({_offer_block_for(error): error.message_de}))
            return
        except Exception:
            logger.exception("adding an offer from the modal by %s failed", user_id)
            await ack(**field_errors({INSURER_BLOCK: TECHNICAL_ERROR}))
            return
        await ack()
        await deliver_now(deps, client, update)
        try:
            await client.chat_postEphemeral(
                channel=deps.backoffice_channel, user=user_id, text=offer_added_text(tender, offer)
            )
        except Exception:
            logger.exception("confirming the offer for %s failed", tender.reference)

    @on_click(app, NO_OFFERS_ACTION, what="marking no offers")
    async def no_offers(request: Request) -> None:
        reference = parse_reference(request.text)
        async with acting(deps, request.user_id) as unit:
            tender = await mark_no_offers(unit.session, unit.actor, reference)
            broker = await broker_of(unit.session, tender)
            rows = await queue_card_update(unit.session, deps, tender)
            rows += await queue_broker_notice(
                unit.session, tender, broker, no_offers_notice(tender.reference)
            )
        await deliver_now(deps, request.client, rows)
