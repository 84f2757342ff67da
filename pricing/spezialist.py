"""Rule P5 Spezialistennachlass for the stand-alone contents insurance (Sach-Inhalt)."""

from __future__ import annotations

from decimal import Decimal

from pricing import texts
from pricing.answer import Answer, JSONValue, Reason, json_names
from pricing.formats import format_percent
from pricing.money import ZERO, as_json
from pricing.requests import Sparte, SpezialistRequest

_COMPANIONS = frozenset({Sparte.HAFT, Sparte.RS})
_PERCENT_BY_COMPANIONS = {0: ZERO, 1: Decimal(5), 2: Decimal(10)}


def spezialist_percent(inhalt: bool, sparten: frozenset[Sparte]) -> Decimal:
    """5 % for contents plus liability or legal protection, 10 % for contents plus both."""
    if not inhalt:
        return ZERO
    return _PERCENT_BY_COMPANIONS[len(sparten & _COMPANIONS)]


def _names(sparten: frozenset[Sparte]) -> str:
    # Sach stands for the contents insurance itself when it is the line that ceased.
    labels = ["Inhalt" if s is Sparte.SACH else s.label for s in Sparte.ordered(sparten)]
    return " und ".join(labels)


def spezialist_reasons(request: SpezialistRequest) -> tuple[Decimal, tuple[Reason, ...]]:
    """The granted percentage and its reasons; shared with the Kombirabatt answer."""
    if not request.inhalt:
        return ZERO, (Reason("P5", texts.SP_NO_INHALT),)
    companions = request.sparten & _COMPANIONS
    before = spezialist_percent(True, companions)
    reasons = [Reason("P5", texts.SP_COMPENSATES)]
    if len(companions) == 2:
        reasons.append(Reason("P5", texts.SP_BOTH))
    elif len(companions) == 1:
        (only,) = companions
        reasons.append(Reason("P5", texts.SP_ONE.format(sparte=only.label)))
    else:
        reasons.append(Reason("P5", texts.SP_NONE))
    percent = before
    drop = request.wegfall
    if drop is not None:
        if drop.jahr == 1:
            percent = spezialist_percent(Sparte.SACH not in drop.sparten, companions - drop.sparten)
            reasons.append(
                Reason(
                    "P5",
                    texts.SP_DROPPED_FIRST_YEAR.format(
                        sparten=_names(drop.sparten),
                        vorher=format_percent(before),
                        nachher=format_percent(percent),
                    ),
                )
            )
        else:
            reasons.append(
                Reason(
                    "P5",
                    texts.SP_DROPPED_LATER.format(sparten=_names(drop.sparten), jahr=drop.jahr),
                )
            )
    return percent, tuple(reasons)


def answer_spezialist(request: SpezialistRequest) -> Answer:
    percent, reasons = spezialist_reasons(request)
    before = spezialist_percent(request.inhalt, request.sparten)
    eligible = percent > ZERO
    headline = (
        texts.SP_HEAD.format(percent=format_percent(percent)) if eligible else texts.SP_HEAD_NONE
    )
    data: dict[str, JSONValue] = {
        "eligible": eligible,
        "percent": as_json(percent),
        "percent_before_drop": as_json(before),
        "adjusted": percent != before,
        "sparten": json_names(
            [
                *(["inhalt"] if request.inhalt else []),
                *(s.value for s in Sparte.ordered(request.sparten)),
            ]
        ),
    }
    return Answer(
        kind="spezialist",
        headline=headline,
        facts=(("Spezialistennachlass", format_percent(percent)),),
        reasons=reasons,
        notes=(texts.SP_BFG,),
        data=data,
    )
