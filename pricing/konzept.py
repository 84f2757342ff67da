"""Rule P3 Konzeptrabatt: new business only, and only as far as the account covers it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pricing import texts
from pricing.answer import Answer, JSONValue, Reason
from pricing.formats import format_euro
from pricing.money import ZERO, as_json
from pricing.requests import Geschaeft, KonzeptRequest


@dataclass(frozen=True, slots=True)
class Account:
    """The broker's Konzeptrabatt account: `saldo` may be negative once credit is in use."""

    saldo: Decimal
    kredit: Decimal
    from_account: bool
    query_overridden: bool = False


def answer_konzept(request: KonzeptRequest, account: Account) -> Answer:
    betrag = format_euro(request.betrag)
    notes = [texts.KR_CHECK_BEFORE]
    if account.from_account:
        notes.append(texts.KR_ACCOUNT_USED)
    if account.query_overridden:
        notes.append(texts.KR_QUERY_IGNORED)
    available = account.saldo + account.kredit
    rest = account.saldo - request.betrag
    base: dict[str, JSONValue] = {
        "betrag": as_json(request.betrag),
        "geschaeft": request.geschaeft.value,
        "saldo": as_json(account.saldo),
        "kredit": as_json(account.kredit),
        "verfuegbar": as_json(available),
    }
    if request.geschaeft is Geschaeft.ERSATZ:
        return Answer(
            kind="konzept",
            headline=texts.KR_HEAD_ERSATZ,
            reasons=(Reason("P3", texts.KR_ERSATZ),),
            notes=tuple(notes),
            data={**base, "eligible": False, "covered": False, "saldo_danach": None},
        )

    amounts = {
        "saldo": format_euro(account.saldo),
        "kredit": format_euro(account.kredit),
        "verfuegbar": format_euro(available),
        "betrag": betrag,
    }
    covered = request.betrag <= available
    facts = [
        ("Guthaben", amounts["saldo"]),
        ("Kredit", amounts["kredit"]),
        ("Verfügbar", amounts["verfuegbar"]),
    ]
    if covered:
        reasons = [Reason("P3", texts.KR_COVERED.format(**amounts))]
        if rest < ZERO:
            # Rule B3: a balance in the credit range is offset against the next budget.
            reasons.append(Reason("B3", texts.KR_USES_CREDIT.format(rest=format_euro(rest))))
        facts.append(("Saldo danach", format_euro(rest)))
        headline = texts.KR_HEAD_OK.format(betrag=betrag)
    else:
        reasons = [Reason("P3", texts.KR_NOT_COVERED.format(**amounts))]
        headline = texts.KR_HEAD_UNCOVERED.format(betrag=betrag)
    return Answer(
        kind="konzept",
        headline=headline,
        facts=tuple(facts),
        reasons=tuple(reasons),
        notes=tuple(notes),
        data={
            **base,
            "eligible": True,
            "covered": covered,
            "saldo_danach": as_json(rest) if covered else None,
        },
    )
