"""Rule P2 Risikobonus: the maximum per risk class and whether a wished value fits."""

from __future__ import annotations

from decimal import Decimal

from pricing import texts
from pricing.answer import Answer, JSONValue, Reason
from pricing.formats import format_percent
from pricing.money import ZERO, as_json
from pricing.requests import RisikobonusRequest, RiskClass

# The absolute maximum, reached only in a positive constellation.
ABSOLUTE_MAX = Decimal(20)
_MAXIMA = {
    RiskClass.POSITIV: ABSOLUTE_MAX,
    RiskClass.DURCHSCHNITT: Decimal(10),
    RiskClass.BESTIMMT: ZERO,
}


def max_risikobonus(klasse: RiskClass) -> Decimal:
    return _MAXIMA[klasse]


def answer_risikobonus(request: RisikobonusRequest) -> Answer:
    allowed = max_risikobonus(request.klasse)
    klasse = request.klasse.label
    maximum = format_percent(allowed)
    reasons = [
        Reason(
            "P2",
            texts.RB_NONE.format(klasse=klasse)
            if allowed == ZERO
            else texts.RB_MAX.format(klasse=klasse, max=maximum),
        )
    ]
    granted: Decimal | None = None
    if request.wunsch is None:
        headline = texts.RB_HEAD_MAX.format(klasse=klasse, max=maximum)
        allowed_wish: bool | None = None
    else:
        wunsch = format_percent(request.wunsch)
        allowed_wish = request.wunsch <= allowed
        if allowed_wish:
            granted = request.wunsch
            headline = texts.RB_HEAD_OK.format(wunsch=wunsch)
            reasons.append(Reason("P2", texts.RB_WISH_OK.format(wunsch=wunsch, max=maximum)))
        else:
            headline = texts.RB_HEAD_REFUSED.format(wunsch=wunsch, max=maximum)
            reasons.append(Reason("P2", texts.RB_WISH_REFUSED.format(wunsch=wunsch, max=maximum)))
    data: dict[str, JSONValue] = {
        "klasse": request.klasse.value,
        "max_percent": as_json(allowed),
        "wunsch": None if request.wunsch is None else as_json(request.wunsch),
        "allowed": allowed_wish,
        "granted": None if granted is None else as_json(granted),
    }
    return Answer(
        kind="risikobonus",
        headline=headline,
        facts=(("Höchstens", maximum),),
        reasons=tuple(reasons),
        notes=(texts.RB_SYSTEM_MAX, texts.RB_ADVICE),
        data=data,
    )
