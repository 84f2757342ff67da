"""Pure rendering of one queued notice: subject, plain text, HTML and the Slack text.

No I/O and no clock: the same row renders the same way on every retry and every replica.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from notifications.formatting import (
    days_phrase,
    eur,
    first_lines,
    german_date,
    single_line,
    slack_escape,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
PARTS = ("subject", "txt", "html", "slack")


class RenderError(ValueError):
    """The row cannot become a correct message; retrying will not change that."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    slack: str


@dataclass(frozen=True)
class TemplateSpec:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


# Context each template needs; enqueue_for_broker adds broker_name and broker_number.
TEMPLATES: dict[str, TemplateSpec] = {
    "offer_available": TemplateSpec(
        required=("reference", "product_label", "insurer", "premium", "customer_name"),
        optional=("product", "valid_until", "broker_name"),
    ),
    "query": TemplateSpec(
        required=("reference", "product_label", "customer_name", "author_name", "body"),
        optional=("broker_name",),
    ),
    "offer_expiring": TemplateSpec(
        required=(
            "reference",
            "insurer",
            "premium",
            "valid_until",
            "days_left",
            "product_label",
            "customer_name",
        ),
        # True: advise the open message module; False: the start page contacts (rule T10),
        # given as ``contact`` where the operator configured them.
        optional=("broker_name", "conversation_open", "contact"),
    ),
    "budget_distributed": TemplateSpec(
        required=("year", "amount", "balance"), optional=("broker_name",)
    ),
    "backoffice_followup": TemplateSpec(required=("tenders",), optional=("date", "workdays")),
    # To the backoffice channel when a queue row was given up (store.queue).
    "dead_letter": TemplateSpec(required=("row_id", "kind", "error"), optional=("template",)),
    # kind: "charge" (P3), "storno" (B4) or "credit" (a new credit limit).
    "budget_booking": TemplateSpec(
        required=("kind", "amount", "balance", "credit_limit", "available"),
        optional=("broker_name", "policy_number", "tender_reference"),
    ),
    # rule B2: the yearly run waits for the base year's FIV figures.
    "budget_waiting": TemplateSpec(required=("year", "base_year"), optional=("date",)),
}

# One entry of backoffice_followup's "tenders"; only the reference is needed.
FOLLOWUP_FIELDS = (
    "product_label",
    "customer_name",
    "broker_name",
    "started_on",
    "workdays_without_offer",
)


def _environment(finalize: Callable[[Any], Any] | None, *, autoescape: bool) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
        # Templates ship with the package and never change while it runs; reloading checks
        # every template's file time (includes and layouts too) on each render.
        auto_reload=False,
    )
    environment.filters.update(
        eur=eur, datum=german_date, first_lines=first_lines, days=days_phrase
    )
    return environment


def _text(value: Any) -> Any:
    # None would print as "None"; templates test optional values with {% if %} instead.
    return "" if value is None else value


ENVIRONMENTS: dict[str, Environment] = {
    "subject": _environment(lambda value: single_line(_text(value)), autoescape=False),
    "txt": _environment(_text, autoescape=False),
    "html": _environment(_text, autoescape=True),
    "slack": _environment(lambda value: slack_escape(_text(value)), autoescape=False),
}


def _followup_item(item: object) -> dict[str, Any]:
    if not isinstance(item, Mapping) or "reference" not in item:
        raise RenderError("backoffice_followup: every tender needs a 'reference'")
    started = item.get("started_on") or item.get("created_on") or item.get("created_at")
    normalised: dict[str, Any] = {key: item.get(key) for key in FOLLOWUP_FIELDS}
    normalised["reference"] = item["reference"]
    normalised["started_on"] = str(started)[:10] if started else None
    return normalised


def _prepared(template: str, context: Mapping[str, Any], reply_to: str | None) -> dict[str, Any]:
    spec = TEMPLATES.get(template)
    if spec is None:
        raise RenderError(f"unknown template {template!r}")
    missing = [key for key in spec.required if context.get(key) in (None, "")]
    if missing:
        raise RenderError(f"template {template!r} needs {', '.join(missing)}")
    prepared: dict[str, Any] = dict.fromkeys(spec.optional)
    prepared.update(context)
    # Set by the sender, never by the row: the footer says whether answers are read.
    prepared["reply_to"] = reply_to
    if template == "backoffice_followup":
        tenders = context["tenders"]
        if not isinstance(tenders, list):
            raise RenderError("backoffice_followup: 'tenders' must be a list")
        prepared["tenders"] = [_followup_item(item) for item in tenders]
    return prepared


CHANNEL_PARTS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "txt", "html"),
    "slack": ("slack",),
}


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    channel: str | None = None,
    reply_to: str | None = None,
) -> Rendered:
    """Render the parts a channel needs (all four without one), or raise RenderError.

    Parts a channel does not use stay empty strings. ``reply_to``: the e-mail carries this
    reply address, so the text invites an answer instead of saying none is read.
    """
    prepared = _prepared(template, context, reply_to)
    parts: dict[str, str] = dict.fromkeys(PARTS, "")
    for part in CHANNEL_PARTS.get(channel or "", PARTS):
        try:
            source = ENVIRONMENTS[part].get_template(f"{template}.{part}.j2")
            parts[part] = source.render(prepared).strip()
        except (TemplateError, ValueError, TypeError) as error:
            raise RenderError(f"template {template!r} ({part}): {error}") from error
    return Rendered(
        subject=single_line(parts["subject"]),
        text=parts["txt"] + "\n" if parts["txt"] else "",
        html=parts["html"] + "\n" if parts["html"] else "",
        slack=parts["slack"],
    )
