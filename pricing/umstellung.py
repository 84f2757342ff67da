"""Rule P4 Umstellungsnachlass: preconditions, need (P4a), cap (P4b) and floors (P4c–P4e)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pricing import texts
from pricing.answer import Answer, JSONValue, Reason, json_names
from pricing.formats import format_euro, format_percent
from pricing.money import HUNDRED, ZERO, apply_percent, as_json, ceil_cents, floor_percent
from pricing.requests import Geschaeft, Sparte, UmstellungRequest
from pricing.risikobonus import max_risikobonus

MAX_RENTA = Decimal(100)
LOW_RENTA = Decimal(50)
MIN_MONTHS = 6
# Tariff generations before these years are "older" (rule P4d).
NEW_GENERATION_FROM = {Sparte.SACH: 2012, Sparte.HAFT: 2008, Sparte.RS: 2012}
_GENERATION_SURCHARGE = Decimal("1.10")
_RENTA_SURCHARGE = Decimal("1.20")


@dataclass(frozen=True, slots=True)
class UmstellungResult:
    """The numbers of a P4 decision; `floor` is None when no discount can be granted at all."""

    eligible: bool
    needed: bool
    premium_after: Decimal
    cap: Decimal
    floor: Decimal | None
    floor_rule: str | None
    max_percent: Decimal
    discounted_premium: Decimal | None
    reasons: tuple[Reason, ...]


def cap_for(sparte: Sparte, renta: Decimal) -> Decimal:
    """Rule P4b; only meaningful for renta up to 100 %."""
    if renta <= LOW_RENTA:
        return Decimal(20) if sparte is Sparte.RS else Decimal(40)
    return Decimal(20)


def is_older_generation(sparte: Sparte, tarifjahr: int) -> bool:
    """Rule P4d."""
    return tarifjahr < NEW_GENERATION_FROM[sparte]


def compute_umstellung(request: UmstellungRequest) -> UmstellungResult:
    premium_after = apply_percent(request.new_premium, request.risikobonus)
    reasons = _precondition_reasons(request)
    eligible = not reasons
    if eligible:
        # Never "erfüllt" while the segment precondition was not stated: it stays open.
        met = texts.UN_PRECONDITIONS_MET if request.segment else texts.UN_PRECONDITION_SEGMENT_OPEN
        reasons.append(
            Reason("P4", met.format(renta=format_percent(request.renta), monate=request.monate))
        )
    if not eligible:
        return UmstellungResult(
            eligible=False,
            needed=premium_after > request.old_premium,
            premium_after=premium_after,
            cap=ZERO,
            floor=None,
            floor_rule=None,
            max_percent=ZERO,
            discounted_premium=None,
            reasons=tuple(reasons),
        )

    old = format_euro(request.old_premium)
    after = format_euro(premium_after)
    needed = premium_after > request.old_premium
    cap = cap_for(request.sparte, request.renta)
    reasons.append(
        Reason(
            "P4a",
            (texts.UN_NEEDED if needed else texts.UN_NOT_NEEDED).format(nachher=after, alt=old),
        )
    )
    if not needed:
        return UmstellungResult(
            eligible=True,
            needed=False,
            premium_after=premium_after,
            cap=cap,
            floor=None,
            floor_rule=None,
            max_percent=ZERO,
            discounted_premium=None,
            reasons=tuple(reasons),
        )

    if request.renta <= LOW_RENTA:
        reasons.append(
            Reason(
                "P4b",
                texts.UN_CAP_LOW.format(sparte=request.sparte.label, cap=format_percent(cap)),
            )
        )
    else:
        reasons.append(Reason("P4b", texts.UN_CAP_HIGH.format(cap=format_percent(cap))))
    floor, floor_rule = _floor(request, reasons)

    by_floor = max(ZERO, floor_percent((premium_after - floor) * HUNDRED / premium_after))
    max_percent = min(cap, by_floor)
    floor_text = format_euro(floor)
    if by_floor <= ZERO:
        reasons.append(
            Reason(floor_rule, texts.UN_FLOOR_REACHED.format(nachher=after, floor=floor_text))
        )
    elif by_floor < cap:
        reasons.append(
            Reason(
                floor_rule,
                texts.UN_BOUND_BY_FLOOR.format(
                    floor=floor_text, max=format_percent(max_percent), cap=format_percent(cap)
                ),
            )
        )
    else:
        reasons.append(
            Reason("P4b", texts.UN_BOUND_BY_CAP.format(cap=format_percent(cap), floor=floor_text))
        )
    return UmstellungResult(
        eligible=True,
        needed=True,
        premium_after=premium_after,
        cap=cap,
        floor=floor,
        floor_rule=floor_rule,
        max_percent=max_percent,
        discounted_premium=apply_percent(premium_after, max_percent),
        reasons=tuple(reasons),
    )


def _precondition_reasons(request: UmstellungRequest) -> list[Reason]:
    """The failed preconditions of P4 (and an excessive Risikobonus, P2); empty if all hold."""
    failed: list[Reason] = []
    if request.klasse is not None:
        allowed = max_risikobonus(request.klasse)
        if request.risikobonus > allowed:
            failed.append(
                Reason(
                    "P2",
                    texts.UN_RB_EXCEEDS.format(
                        rb=format_percent(request.risikobonus),
                        max=format_percent(allowed),
                        klasse=request.klasse.label,
                    ),
                )
            )
    if request.renta > MAX_RENTA:
        failed.append(
            Reason("P4", texts.UN_RENTA_TOO_HIGH.format(renta=format_percent(request.renta)))
        )
    if request.geschaeft is not Geschaeft.ERSATZ:
        failed.append(Reason("P4", texts.UN_NOT_ERSATZ))
    if request.segment is False:
        failed.append(Reason("P4", texts.UN_NOT_SEGMENT))
    if request.monate < MIN_MONTHS:
        failed.append(Reason("P4", texts.UN_TOO_YOUNG.format(monate=request.monate)))
    return failed


def _floor(request: UmstellungRequest, reasons: list[Reason]) -> tuple[Decimal, str]:
    """Rules P4c–P4e: the highest applicable floor and the rule that sets it."""
    old = request.old_premium
    floors = [(old, "P4c")]
    reasons.append(Reason("P4c", texts.UN_FLOOR_OLD.format(alt=format_euro(old))))
    if is_older_generation(request.sparte, request.tarifjahr):
        generation_floor = ceil_cents(old * _GENERATION_SURCHARGE)
        floors.append((generation_floor, "P4d"))
        reasons.append(
            Reason(
                "P4d",
                texts.UN_FLOOR_GENERATION.format(
                    sparte=request.sparte.label,
                    jahr=request.tarifjahr,
                    grenze=NEW_GENERATION_FROM[request.sparte],
                    floor=format_euro(generation_floor),
                ),
            )
        )
    if request.renta > LOW_RENTA:
        renta_floor = ceil_cents(old * _RENTA_SURCHARGE)
        floors.append((renta_floor, "P4e"))
        reasons.append(
            Reason(
                "P4e",
                texts.UN_FLOOR_RENTA.format(
                    renta=format_percent(request.renta), floor=format_euro(renta_floor)
                ),
            )
        )
    floor, rule = max(floors, key=lambda item: item[0])
    if len(floors) == 3:
        reasons.append(Reason(rule, texts.UN_FLOOR_BOTH.format(floor=format_euro(floor))))
    return floor, rule


def answer_umstellung(request: UmstellungRequest) -> Answer:
    result = compute_umstellung(request)
    sparte = request.sparte.label
    if not result.eligible:
        headline = texts.UN_HEAD_INELIGIBLE.format(sparte=sparte)
    elif not result.needed:
        headline = texts.UN_HEAD_NOT_NEEDED.format(sparte=sparte)
    else:
        headline = texts.UN_HEAD_MAX.format(sparte=sparte, max=format_percent(result.max_percent))
    if result.eligible and request.segment is None:
        headline += texts.UN_HEAD_SEGMENT_OPEN

    facts = [
        ("Bisheriger Beitrag", format_euro(request.old_premium)),
        ("Neuer Beitrag vor Risikobonus", format_euro(request.new_premium)),
        ("Risikobonus", format_percent(request.risikobonus)),
        ("Neuer Beitrag nach Risikobonus", format_euro(result.premium_after)),
    ]
    if result.eligible and result.needed:
        facts.append(("Höchstsatz (P4b)", format_percent(result.cap)))
    if result.floor is not None:
        facts.append((f"Untergrenze ({result.floor_rule})", format_euro(result.floor)))
    if result.discounted_premium is not None:
        facts.append(("Beitrag mit Nachlass", format_euro(result.discounted_premium)))

    notes = (texts.RB_ADVICE,) if request.risikobonus > ZERO else ()
    data: dict[str, JSONValue] = {
        "sparte": request.sparte.value,
        "eligible": result.eligible,
        "needed": result.needed,
        "max_percent": as_json(result.max_percent),
        "premium_after": as_json(result.premium_after),
        "floor": None if result.floor is None else as_json(result.floor),
        "floor_rule": result.floor_rule,
        "cap": as_json(result.cap),
        "discounted_premium": (
            None if result.discounted_premium is None else as_json(result.discounted_premium)
        ),
        "old_premium": as_json(request.old_premium),
        "new_premium": as_json(request.new_premium),
        "risikobonus": as_json(request.risikobonus),
        "segment": request.segment,
        "open_conditions": json_names(
            ["segment"] if result.eligible and request.segment is None else []
        ),
    }
    return Answer(
        kind="umstellung",
        headline=headline,
        facts=tuple(facts),
        reasons=result.reasons,
        notes=notes,
        data=data,
    )
