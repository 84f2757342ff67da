"""Rule P1 Kombirabatt: count lines of business and look the rate up in a configured table.

The seeds give no rates, so the table is configuration: the bot reads a TOML file and
passes the parsed table in; this module never touches the file system.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from pricing import texts
from pricing.answer import Answer, JSONValue, Reason, json_names
from pricing.formats import NumberFormatError, Unit, format_euro, format_percent, parse_number
from pricing.money import HUNDRED, ZERO, apply_percent, as_json, round_cents
from pricing.requests import KombiRequest, Sparte, SpezialistRequest
from pricing.spezialist import spezialist_reasons

_COUNTS = (1, 2, 3)


class KombiTableError(ValueError):
    """The rate table is malformed; the message is German and names the bad entry."""


@dataclass(frozen=True, slots=True)
class KombiRateTable:
    """Kombirabatt in percent by the number of counted lines of business (1–3)."""

    rates: Mapping[int, Decimal]
    example: bool = False

    def rate(self, count: int) -> Decimal:
        return self.rates.get(count, ZERO)

    @classmethod
    def from_toml(cls, text: str) -> KombiRateTable:
        """Parse `beispiel = true` and a `[saetze]` table mapping "1".."3" to percentages."""
        # Only the CLI and the app read a rate file; a query alone need not load the parser.
        import tomllib

        try:
            # Decimal for floats keeps `7.5` exact; a float would turn into 7.4999….
            document = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as error:
            raise KombiTableError(f"Kombirabatt-Tabelle ist kein gültiges TOML: {error}") from error
        unknown = set(document) - {"beispiel", "saetze"}
        if unknown:
            raise KombiTableError(
                f"Kombirabatt-Tabelle: unbekannter Eintrag „{sorted(unknown)[0]}“ "
                "(erlaubt: beispiel, saetze)."
            )
        example = document.get("beispiel", False)
        if not isinstance(example, bool):
            raise KombiTableError("Kombirabatt-Tabelle: „beispiel“ muss true oder false sein.")
        raw_rates = document.get("saetze")
        if not isinstance(raw_rates, dict):
            raise KombiTableError(
                "Kombirabatt-Tabelle: Abschnitt [saetze] fehlt, z. B. [saetze] 1 = 0 2 = 5 3 = 10."
            )
        rates: dict[int, Decimal] = {}
        for key, value in raw_rates.items():
            if key not in {str(count) for count in _COUNTS}:
                raise KombiTableError(
                    f"Kombirabatt-Tabelle: unbekannte Anzahl „{key}“ (erlaubt: 1, 2, 3)."
                )
            rates[int(key)] = _rate(key, value)
        missing = [str(count) for count in _COUNTS if count not in rates]
        if missing:
            raise KombiTableError(
                f"Kombirabatt-Tabelle: Satz für {', '.join(missing)} Branche(n) fehlt."
            )
        return cls(rates=rates, example=example)


def _rate(key: str, value: object) -> Decimal:
    if isinstance(value, bool):
        rate = None
    elif isinstance(value, int | Decimal):
        rate = Decimal(value)
    elif isinstance(value, str):
        try:
            rate, unit = parse_number(value)
        except NumberFormatError:
            rate = None
        else:
            if unit is Unit.EURO:
                rate = None
    else:
        rate = None
    if rate is None or not ZERO <= rate <= HUNDRED:
        raise KombiTableError(
            f"Kombirabatt-Tabelle: Satz für {key} Branche(n) muss eine Zahl von 0 bis 100 sein."
        )
    return rate


def _names(sparten: frozenset[Sparte]) -> str:
    return ", ".join(s.label for s in Sparte.ordered(sparten))


def answer_kombi(request: KombiRequest, table: KombiRateTable | None) -> Answer:
    if request.inhalt:
        return _answer_inhalt(request)
    counted = request.sparten | request.zaehlstuecke
    discounted = request.sparten - request.zaehlstuecke
    count_before = len(counted)
    count = count_before
    reasons = [
        Reason("P1", texts.KB_AUTOMATIC),
        Reason("P1", texts.KB_COUNT.format(sparten=_names(counted), anzahl=count_before)),
    ]
    if request.zaehlstuecke:
        reasons.append(
            Reason("P1", texts.KB_ZAEHLSTUECK.format(sparten=_names(request.zaehlstuecke)))
        )
    drop = request.wegfall
    if drop is not None:
        discounted = discounted - drop.sparten
        if drop.jahr == 1:
            count = count_before - len(drop.sparten & counted)
            reasons.append(
                Reason(
                    "P1",
                    texts.KB_DROPPED_FIRST_YEAR.format(sparten=_names(drop.sparten), anzahl=count),
                )
            )
        else:
            reasons.append(
                Reason(
                    "P1",
                    texts.KB_DROPPED_LATER.format(sparten=_names(drop.sparten), jahr=drop.jahr),
                )
            )
    if not discounted:
        reasons.append(Reason("P1", texts.KB_NOTHING_DISCOUNTED))

    notes: list[str] = []
    facts = [("Gezählte Branchen", str(count))]
    rate: Decimal | None = None
    nachlass: Decimal | None = None
    after: Decimal | None = None
    if table is None:
        headline = texts.KB_HEAD_UNCONFIGURED.format(anzahl=count)
        reasons.append(Reason("P1", texts.KB_NOT_CONFIGURED))
    else:
        rate = table.rate(count) if discounted else ZERO
        headline = texts.KB_HEAD.format(anzahl=count, rate=format_percent(rate))
        reasons.append(Reason("P1", texts.KB_RATE.format(anzahl=count, rate=format_percent(rate))))
        facts.append(("Kombirabatt", format_percent(rate)))
        if table.example:
            notes.append(texts.KB_EXAMPLE_TABLE)
        if request.beitrag is not None:
            nachlass = round_cents(request.beitrag * rate / HUNDRED)
            after = apply_percent(request.beitrag, rate)
            facts.extend(
                [
                    ("Beitrag", format_euro(request.beitrag)),
                    ("Nachlass", format_euro(nachlass)),
                    ("Beitrag mit Kombirabatt", format_euro(after)),
                ]
            )
    data: dict[str, JSONValue] = {
        "configured": table is not None,
        "example_table": table is not None and table.example,
        "sparten": json_names(s.value for s in Sparte.ordered(request.sparten)),
        "zaehlstuecke": json_names(s.value for s in Sparte.ordered(request.zaehlstuecke)),
        "discounted_sparten": json_names(s.value for s in Sparte.ordered(discounted)),
        "count_before_drop": count_before,
        "count": count,
        "rate": None if rate is None else as_json(rate),
        "beitrag": None if request.beitrag is None else as_json(request.beitrag),
        "nachlass": None if nachlass is None else as_json(nachlass),
        "beitrag_danach": None if after is None else as_json(after),
    }
    return Answer(
        kind="kombi",
        headline=headline,
        facts=tuple(facts),
        reasons=tuple(reasons),
        notes=tuple(notes),
        data=data,
    )


def _answer_inhalt(request: KombiRequest) -> Answer:
    """The contents stand-alone gets no Kombinachlass; point to P5 and show what it gives."""
    spezialist = SpezialistRequest(
        inhalt=True, sparten=request.sparten - {Sparte.SACH}, wegfall=request.wegfall
    )
    percent, p5_reasons = spezialist_reasons(spezialist)
    companions = (s.value for s in Sparte.ordered(spezialist.sparten))
    return Answer(
        kind="kombi",
        headline=texts.KB_HEAD_INHALT,
        facts=(("Spezialistennachlass stattdessen", format_percent(percent)),),
        reasons=(Reason("P1", texts.KB_INHALT), *p5_reasons),
        notes=(texts.SP_BFG,),
        data={
            "configured": False,
            "example_table": False,
            "sparten": ["inhalt", *json_names(companions)],
            "count": None,
            "rate": None,
            "spezialist_percent": as_json(percent),
        },
    )
