"""The one entry point callers need: text in, Answer out.

Precedence for the Konzeptrabatt account (rule P3): a balance or credit limit passed by
the caller (the Slack command knows the broker's real account) wins over `saldo=` /
`kredit=` in the query text; the query values are only used where the caller passed
None. Without any balance the query must name `saldo=`; a missing credit limit counts
as 0 so that an unknown credit is never assumed.
"""

from __future__ import annotations

from decimal import Decimal

from pricing import texts
from pricing.answer import Answer, Reason
from pricing.kombi import KombiRateTable, answer_kombi
from pricing.konzept import Account, answer_konzept
from pricing.money import ZERO
from pricing.query import FORMS, KONZEPT, QueryError, parse_query
from pricing.requests import (
    HilfeRequest,
    KombiRequest,
    KonzeptRequest,
    Request,
    RisikobonusRequest,
    SpezialistRequest,
    UmstellungRequest,
)
from pricing.risikobonus import answer_risikobonus
from pricing.spezialist import answer_spezialist
from pricing.umstellung import answer_umstellung


def answer_query(
    text: str,
    *,
    konzept_balance: Decimal | None = None,
    konzept_credit: Decimal | None = None,
    kombi_table: KombiRateTable | None = None,
) -> Answer:
    """Parse `text` and answer it; raises QueryError (a ValueError) if it does not parse."""
    return answer_request(
        parse_query(text),
        konzept_balance=konzept_balance,
        konzept_credit=konzept_credit,
        kombi_table=kombi_table,
    )


def answer_request(
    request: Request,
    *,
    konzept_balance: Decimal | None = None,
    konzept_credit: Decimal | None = None,
    kombi_table: KombiRateTable | None = None,
) -> Answer:
    if isinstance(request, UmstellungRequest):
        return answer_umstellung(request)
    if isinstance(request, RisikobonusRequest):
        return answer_risikobonus(request)
    if isinstance(request, KonzeptRequest):
        return answer_konzept(request, _account(request, konzept_balance, konzept_credit))
    if isinstance(request, SpezialistRequest):
        return answer_spezialist(request)
    if isinstance(request, KombiRequest):
        return answer_kombi(request, kombi_table)
    if isinstance(request, HilfeRequest):
        return help_answer()
    raise TypeError(f"unsupported request {request!r}")


def _account(request: KonzeptRequest, balance: Decimal | None, credit: Decimal | None) -> Account:
    saldo = balance if balance is not None else request.saldo
    if saldo is None:
        raise QueryError(
            "Es fehlt das Feld „saldo“ (Guthaben des Konzeptrabattkontos in €) in der "
            "Anfrage „konzept“.",
            word="saldo",
            example=KONZEPT.example,
        )
    kredit = credit if credit is not None else request.kredit
    return Account(
        saldo=saldo,
        kredit=ZERO if kredit is None else kredit,
        from_account=balance is not None or credit is not None,
        query_overridden=(balance is not None and request.saldo is not None)
        or (credit is not None and request.kredit is not None),
    )


def help_answer() -> Answer:
    lines = tuple((form.title, f"`{form.example}`") for form in FORMS if form.name != "hilfe")
    return Answer(
        kind="hilfe",
        headline=texts.HELP_HEAD,
        facts=lines,
        reasons=(),
        notes=(
            "Reihenfolge der Angaben ist frei; Zahlen wie 1.234,56 oder 1234.56, 40 % "
            "und 1.500 € sind erlaubt.",
            "umstellung: `neu` ist der Beitrag vor Risikobonus; risikobonus ist 0 und "
            "geschaeft ersatz, wenn nicht angegeben.",
            "kombi/spezialist: `wegfall=rs jahr=1` für eine im ersten Versicherungsjahr "
            "weggefallene Branche; kombi: `zaehlstueck=haft` für ein ausgesteuertes Risiko.",
        ),
        data={
            "forms": [
                {"name": form.name, "title": form.title, "example": form.example}
                for form in FORMS
                if form.name != "hilfe"
            ]
        },
    )


__all__ = ["Answer", "QueryError", "Reason", "answer_query", "answer_request", "help_answer"]
