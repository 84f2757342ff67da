"""FirmenKonzept discount rules P1–P5 and their German query language.

Pure: no I/O, no Slack. Callers pass account data and the Kombirabatt table in.

    from pricing import answer_query, QueryError
    answer = answer_query("umstellung sparte=sach renta=40 alt=1000 neu=1500 "
                          "tarifjahr=2015 monate=24")
    answer.to_text()   # German, Slack mrkdwn friendly
    answer.to_dict()   # JSON-able

A query that does not parse raises QueryError (a ValueError) with a German message.
For `konzept`, account data passed as `konzept_balance` / `konzept_credit` wins over
`saldo=` / `kredit=` in the text; see pricing.service.
"""

from pricing.answer import Answer, Reason
from pricing.kombi import KombiRateTable, KombiTableError
from pricing.query import QueryError, parse_query
from pricing.service import answer_query, answer_request, help_answer

__all__ = [
    "Answer",
    "KombiRateTable",
    "KombiTableError",
    "QueryError",
    "Reason",
    "answer_query",
    "answer_request",
    "help_answer",
    "parse_query",
]
