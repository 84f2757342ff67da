"""The platform's events as validated objects: one pydantic model per event type.

The contract (``POST /platform/events``): ``{"id", "type", "occurred_at", "data"}``; money
is a decimal string in euros, ``"250.00"`` or German ``"250,00"`` / ``"1.234,50"``.
A body that does not validate becomes ``EventInvalid`` with one German message per field.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
)

from store.money import CENT, parse_german_amount

EVENT_TYPES = ("policy.issued", "policy.cancelled", "broker.credit_limit", "calculator.offer")
EventType = Literal["policy.issued", "policy.cancelled", "broker.credit_limit", "calculator.offer"]

_DOT_AMOUNT = re.compile(r"^-?\d+(\.\d{1,2})?$")
MAX_EUROS = Decimal("10000000")


def parse_euros(value: object) -> Decimal:
    """``"250.00"``, ``"250,00"``, ``"1.234,50"`` or a whole number → Decimal; never a float."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('Betrag bitte als Text wie "250.00" oder "250,00" angeben')
    text = str(value).strip().replace("€", "").strip()
    if "," in text:
        german = parse_german_amount(text)
        if german is None:
            raise ValueError(f"„{value}“ ist kein Betrag wie 250,00")
        text = str(german)
    elif not _DOT_AMOUNT.match(text):
        raise ValueError(f"„{value}“ ist kein Betrag wie 250.00")
    try:
        amount = Decimal(text).quantize(CENT)
    except InvalidOperation:
        raise ValueError(f"„{value}“ ist kein Betrag") from None
    if abs(amount) > MAX_EUROS:
        raise ValueError(f"„{value}“ ist unplausibel hoch")
    return amount


def _non_negative(value: object) -> Decimal:
    amount = parse_euros(value)
    if amount < 0:
        raise ValueError("darf nicht negativ sein")
    return amount


def _positive(value: object) -> Decimal:
    amount = parse_euros(value)
    if amount <= 0:
        raise ValueError("muss größer als 0 € sein")
    return amount


Euros = Annotated[Decimal, BeforeValidator(_non_negative)]
PositiveEuros = Annotated[Decimal, BeforeValidator(_positive)]
BrokerNumber = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,32}$")]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")]


class _Data(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, frozen=True, extra="forbid")


class PolicyIssued(_Data):
    broker_number: BrokerNumber
    policy_number: Key
    konzeptrabatt: Euros
    tender_reference: Annotated[str, Field(pattern=r"^AS-\d{4}-\d{4,}$")] | None = None


class PolicyCancelled(_Data):
    policy_number: Key
    from_inception: StrictBool


class CreditLimit(_Data):
    broker_number: BrokerNumber
    amount: Euros


class CalculatorOffer(_Data):
    consultation_id: Key
    sparte: Annotated[str, Field(min_length=1, max_length=40)]
    insurer: Annotated[str, Field(min_length=1, max_length=200)]
    premium: PositiveEuros
    valid_until: date
    offer_id: Key
    new_line: StrictBool = False
    # Only needed for the first offer of a consultation the desk does not know yet.
    broker_number: BrokerNumber | None = None
    customer_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


EventData = PolicyIssued | PolicyCancelled | CreditLimit | CalculatorOffer
DATA_MODELS: dict[str, type[_Data]] = {
    "policy.issued": PolicyIssued,
    "policy.cancelled": PolicyCancelled,
    "broker.credit_limit": CreditLimit,
    "calculator.offer": CalculatorOffer,
}


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Key
    type: EventType
    occurred_at: AwareDatetime
    data: dict[str, Any]


class PlatformEventIn(BaseModel):
    """One validated event: the envelope and its type's data."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    occurred_at: datetime
    data: EventData


class FieldProblem(BaseModel):
    field: str
    message: str


class EventInvalid(ValueError):
    """The body does not validate; ``problems`` name each field with a German message."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems

    def to_json(self) -> dict[str, Any]:
        return {"errors": [problem.model_dump() for problem in self.problems]}


def _message(problem: Any) -> str:
    kind = problem["type"]
    context = problem.get("ctx") or {}
    if kind == "missing":
        return "fehlt"
    if kind == "extra_forbidden":
        return "ist kein Feld dieses Ereignisses"
    if kind == "value_error":
        return str(context.get("error", "ungültig"))
    if kind == "literal_error":
        return "unbekannter Typ; erlaubt sind " + ", ".join(EVENT_TYPES)
    if kind in ("string_type", "string_too_short"):
        return "muss ein nicht leerer Text sein"
    if kind == "string_too_long":
        return f"höchstens {context.get('max_length')} Zeichen"
    if kind == "string_pattern_mismatch":
        return "hat nicht das erwartete Format"
    if kind.startswith("bool"):
        return "muss true oder false sein"
    if kind.startswith("date"):
        return "muss ein Datum wie 2026-12-31 sein"
    if kind.startswith("datetime") or kind == "timezone_aware":
        return "muss ein Zeitpunkt mit Zeitzone sein, z. B. 2026-12-01T10:00:00+01:00"
    if kind in ("dict_type", "model_type"):
        return "muss ein JSON-Objekt sein"
    return "ungültig"


def _problems(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    return [
        FieldProblem(
            field=prefix + ".".join(str(part) for part in problem["loc"]) or "body",
            message=_message(problem),
        )
        for problem in error.errors()
    ]


def parse_event(raw: bytes | str | dict[str, Any]) -> PlatformEventIn:
    """The body (raw JSON or already decoded) as one event, or EventInvalid."""
    if isinstance(raw, bytes | str):
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise EventInvalid([FieldProblem(field="body", message="kein gültiges JSON")]) from None
    else:
        body = raw
    if not isinstance(body, dict):
        raise EventInvalid([FieldProblem(field="body", message="muss ein JSON-Objekt sein")])
    try:
        envelope = _Envelope.model_validate(body)
    except ValidationError as error:
        raise EventInvalid(_problems(error)) from None
    try:
        data = DATA_MODELS[envelope.type].model_validate(envelope.data)
    except ValidationError as error:
        raise EventInvalid(_problems(error, "data.")) from None
    return PlatformEventIn(
        id=envelope.id,
        type=envelope.type,
        occurred_at=envelope.occurred_at,
        data=data,
    )
