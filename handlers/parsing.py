"""What a German user types into a slash command, turned into validated values.

Pure: text in, values out, a German ``InputError`` otherwise. Words, numbers and dates go
through ``pricing.formats`` so `/rabatt` and `/angebot` read them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pricing import formats
from pricing.formats import NoSuchDay, NumberFormatError, UnclosedQuote, Unit, parse_number

REFERENCE = re.compile(r"^AS-\d{4}-\d{4,}$")
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-"})


class InputError(ValueError):
    """Text that cannot be used as typed; ``message_de`` is shown to the user."""

    def __init__(self, message_de: str) -> None:
        super().__init__(message_de)
        self.message_de = message_de


def split_words(text: str) -> list[str]:
    """Split on whitespace; straight or typographic double quotes group words.

    Single quotes are left alone: German names carry apostrophes ("Hans' Backstube").
    """
    try:
        return formats.split_words(text)
    except UnclosedQuote:
        raise InputError(
            'Ein Anführungszeichen wurde nicht geschlossen. Beispiel: kunde="Müller GmbH"'
        ) from None


def normalise_key(key: str) -> str:
    """`Vorschäden`, `vorschaeden` and `VORSCHAEDEN` name the same field."""
    return formats.normalise_word(key)


@dataclass(frozen=True)
class Arguments:
    positional: list[str]
    named: dict[str, str]


def parse_arguments(
    text: str, allowed: Mapping[str, str], *, example: str, max_positional: int = 0
) -> Arguments:
    """Split ``text`` into bare words and ``key=value`` pairs.

    ``allowed`` maps every accepted spelling to its canonical field name.
    """
    positional: list[str] = []
    named: dict[str, str] = {}
    for word in split_words(text):
        key, equals, value = word.partition("=")
        if not equals:
            if len(positional) >= max_positional:
                raise InputError(
                    f"„{word}“ verstehe ich nicht – bitte als feld=wert angeben. "
                    f"Beispiel: {example}"
                )
            positional.append(word)
            continue
        field = allowed.get(normalise_key(key))
        if field is None:
            fields = ", ".join(sorted(set(allowed.values()), key=list(allowed.values()).index))
            raise InputError(f"Unbekanntes Feld „{key}“. Erlaubt sind: {fields}.")
        if field in named:
            raise InputError(f"Das Feld „{field}“ ist doppelt angegeben.")
        if not value.strip():
            raise InputError(f"Für „{field}“ fehlt der Wert. Beispiel: {example}")
        named[field] = value.strip()
    return Arguments(positional=positional, named=named)


def require(arguments: Arguments, fields: Collection[str], *, example: str) -> None:
    missing = [field for field in fields if field not in arguments.named]
    if missing:
        listing = ", ".join(f"{field}=…" for field in missing)
        raise InputError(f"Es fehlt: {listing}. Beispiel: {example}")


def parse_amount(raw: str, *, field: str) -> Decimal:
    """Euro amounts as Germans write them: `1.234,50`, `1234.50 €`, `€ 500`."""
    try:
        value, unit = parse_number(raw)
    except NumberFormatError:
        raise InputError(
            f"„{raw}“ ist kein Betrag für {field}. Beispiel: 1.234,50 oder 1234.50 €"
        ) from None
    if unit is Unit.PERCENT:
        raise InputError(f"{field} ist ein Betrag in €, kein Prozentwert.")
    if value < 0:
        raise InputError(f"{field} kann nicht negativ sein.")
    return value


def parse_date(raw: str, *, field: str) -> date:
    """`31.12.2026` or `2026-12-31`."""
    try:
        return formats.parse_date(raw)
    except NoSuchDay:
        raise InputError(f"Den Tag „{raw}“ gibt es nicht ({field}).") from None
    except ValueError:
        raise InputError(
            f"„{raw}“ ist kein Datum für {field}. Beispiel: 31.12.2026 oder 2026-12-31"
        ) from None


def parse_reference(raw: str) -> str:
    """A tender reference like `AS-2026-0001`, tolerant of case and typographic dashes."""
    reference = raw.strip().strip("`*_").translate(_DASHES).upper()
    if not REFERENCE.match(reference):
        raise InputError(f"„{raw}“ ist keine Ausschreibungsnummer. Sie sieht so aus: AS-2026-0001")
    return reference
