"""German formats in one place: money, percentages and dates shown, and what users type read.

Every layer may call it (it sits in `pricing`, the pure leaf that needs it most), so `/rabatt`,
the Block Kit builders, the e-mails and the CLI spell `1.234,50 €` the same way. Output
follows Babel's de_DE patterns exactly (`#,##0.00 ¤` with a no-break space, so a line
break never separates an amount from its sign); it is built by hand because Babel's
formatter costs several times as much per call and a `/rabatt` answer formats a dozen
amounts. ``tests/pricing/test_formats.py`` holds the output to Babel's.

Money is Decimal or integer cents, rounded half up to the cent, never a float.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
NBSP = "\u00a0"


class Unit(StrEnum):
    NONE = ""
    PERCENT = "%"
    EURO = "€"


class FormatError(ValueError):
    """Text that is not what it should be; callers add the field name in German."""


class NumberFormatError(FormatError):
    """Raised for text that is not a number."""


class NoSuchDay(FormatError):
    """A date written correctly that does not exist, such as 31.02.2026."""


# --- showing ---------------------------------------------------------------------------


_THOUSAND = Decimal(1000)
_MINUS_THOUSAND = -_THOUSAND
_EURO = NBSP + "€"
_PERCENT = NBSP + "%"
_WHOLE = Decimal(1)


def _grouped(value: Decimal) -> str:
    """A quantized Decimal in German digits: `-1.234,50`.

    ``str`` of a quantized Decimal is exact and much cheaper than ``format``, which is
    why the grouping is done on its digits here.
    """
    text = str(value)
    if _MINUS_THOUSAND < value < _THOUSAND:
        return text.replace(".", ",")
    whole, point, fraction = text.partition(".")
    sign = ""
    if whole[0] == "-":
        sign, whole = "-", whole[1:]
    if len(whole) <= 6:
        whole = whole[:-3] + "." + whole[-3:]
    else:
        whole = f"{int(whole):,}".replace(",", ".")
    return sign + whole + ("," + fraction if point else "")


def format_euro(value: Decimal) -> str:
    """``Decimal("1234.5")`` → ``1.234,50 €``; more than two places round half up."""
    return _grouped(value.quantize(CENT, rounding=ROUND_HALF_UP)) + _EURO


def format_cents(cents: int) -> str:
    """``123450`` → ``1.234,50 €``: the form money takes in the database."""
    return format_euro(Decimal(cents).scaleb(-2))


def format_percent(value: Decimal) -> str:
    """``40`` → ``40 %``, ``25.92`` → ``25,92 %``: whole rates read better without
    decimals, computed limits keep their hundredths (half up)."""
    whole = value.quantize(_WHOLE, rounding=ROUND_HALF_UP)
    if whole == value:
        return _grouped(whole) + _PERCENT
    return _grouped(value.quantize(CENT, rounding=ROUND_HALF_UP)) + _PERCENT


def format_date(value: date) -> str:
    """``31.12.2026``."""
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


def format_datetime(value: datetime, *, seconds: bool = False) -> str:
    """``31.12.2026 14:05`` (``…:09`` with ``seconds``), in the zone ``value`` carries."""
    clock = f"{value.hour:02d}:{value.minute:02d}"
    if seconds:
        clock += f":{value.second:02d}"
    return f"{format_date(value)} {clock}"


# --- reading what users type -----------------------------------------------------------

# No leading zero before a dot: `0.125` is a fraction, not 125 (see _looks_like_thousands).
_PLAIN_GERMAN = re.compile(r"([1-9]\d{0,2}(?:\.\d{3})+|\d+)(?:,(\d+))?")
_UNIT_SUFFIX = re.compile(r"\s*(eur|euro)$", re.IGNORECASE)
_UNIT_PREFIX = re.compile(r"^\s*(€|eur)\s*", re.IGNORECASE)
# Slack and word processors turn spaces and minus signs into their typographic cousins.
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_BODY = re.compile(r"[+-]?\d[\d.,]*")
_GROUPED = {sep: re.compile(r"\d{1,3}(?:" + re.escape(sep) + r"\d{3})+") for sep in ".,"}


def parse_number(raw: str) -> tuple[Decimal, Unit]:
    """Parse `1.234,56`, `1234.56`, `40%`, `1.500 €`, `-100` into a Decimal and its unit.

    German conventions win where a text is ambiguous: a single comma is the decimal
    separator (`1,5` is one and a half) and a single dot followed by exactly three digits
    groups thousands (`1.500` is fifteen hundred), because the brokers write German.
    Everything ``format_euro`` and ``format_percent`` write reads back to its value.
    """
    if raw.isascii() and raw.isdigit():
        # Most values are plain whole numbers (renta=40, monate=24); skip the general path.
        return Decimal(raw), Unit.NONE
    german = _PLAIN_GERMAN.fullmatch(raw)
    if german:
        # `1.000,00`, `12,5`, `1.500`: how brokers write most amounts; one match decides.
        whole, fraction = german.groups()
        whole = whole.replace(".", "")
        return Decimal(f"{whole}.{fraction}" if fraction else whole), Unit.NONE
    text = raw.strip().replace("\u2212", "-")
    unit = Unit.NONE
    # The unit by its last characters: cheaper than a regular expression anchored at the end.
    last = text[-1:]
    if last == "%":
        unit, text = Unit.PERCENT, text[:-1]
    elif last == "€":
        unit, text = Unit.EURO, text[:-1]
    elif last in ("r", "R", "o", "O"):
        suffix = _UNIT_SUFFIX.search(text)
        if suffix:
            unit, text = Unit.EURO, text[: suffix.start()]
    if text[:1] in ("€", "e", "E"):
        prefix = _UNIT_PREFIX.match(text)
        if prefix:
            if unit is Unit.PERCENT:
                raise NumberFormatError(raw)
            unit = Unit.EURO
            text = text[prefix.end() :]
    if not text.isascii() or not text.isprintable() or " " in text:
        text = _SPACES.sub("", text)
    if not _BODY.fullmatch(text):
        raise NumberFormatError(raw)
    sign = ""
    if text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    return Decimal(sign + _normalise_separators(text, raw)), unit


def _normalise_separators(text: str, raw: str) -> str:
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        decimal_sep = "." if text.rfind(".") > text.rfind(",") else ","
        group_sep = "," if decimal_sep == "." else "."
        whole, _, fraction = text.rpartition(decimal_sep)
        if not fraction.isdigit() or not _is_grouped(whole, group_sep):
            raise NumberFormatError(raw)
        return whole.replace(group_sep, "") + "." + fraction
    if commas == 1:
        whole, _, fraction = text.partition(",")
        if not (whole.isdigit() and fraction.isdigit()):
            raise NumberFormatError(raw)
        return whole + "." + fraction
    if commas > 1:
        if not _is_grouped(text, ","):
            raise NumberFormatError(raw)
        return text.replace(",", "")
    if dots > 1 or _looks_like_thousands(text):
        if not _is_grouped(text, "."):
            raise NumberFormatError(raw)
        return text.replace(".", "")
    if dots == 1:
        whole, _, fraction = text.partition(".")
        if not (whole.isdigit() and fraction.isdigit()):
            raise NumberFormatError(raw)
    return text


def _looks_like_thousands(text: str) -> bool:
    whole, dot, fraction = text.partition(".")
    return bool(dot) and len(fraction) == 3 and 1 <= len(whole) <= 3 and whole != "0"


def _is_grouped(text: str, sep: str) -> bool:
    if sep not in text:
        return text.isdigit()
    return _GROUPED[sep].fullmatch(text) is not None


_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_date(raw: str) -> date:
    """`31.12.2026` or `2026-12-31`; ``NoSuchDay`` for `31.02.2026`, ``FormatError`` else."""
    text = raw.strip()
    german = _GERMAN_DATE.fullmatch(text)
    iso = None if german else _ISO_DATE.fullmatch(text)
    if german:
        day, month, year = (int(part) for part in german.groups())
    elif iso:
        year, month, day = (int(part) for part in iso.groups())
    else:
        raise FormatError(raw)
    try:
        return date(year, month, day)
    except ValueError:
        raise NoSuchDay(raw) from None


# Spelt out as German does without umlauts; capitals too, for texts that keep their case.
UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)


def normalise_word(word: str) -> str:
    """Lower case with umlauts spelt out: `Vorschäden`, `vorschaeden` and `VORSCHAEDEN` are
    one key."""
    return word.strip().lower().translate(UMLAUTS)


# Slack (and the Mac/Word autocorrect before it) turns "…" into „…“ or “…”.
DOUBLE_QUOTES = '"„“”«»'
# Single quotes are apostrophes in German names ("Hans' Backstube"); only where no name
# can occur (the `/rabatt` query) do they group words too.
SINGLE_QUOTES = "'‚‘’"


class UnclosedQuote(FormatError):
    """A quote opened and never closed."""


def _word_pattern(quotes: str) -> re.Pattern[str]:
    q = re.escape(quotes)
    # A word is a run of plain characters and quoted stretches; a quote left over is open.
    return re.compile(rf"(?:[^\s{q}]+|[{q}][^{q}]*[{q}])+|[{q}]")


_WORDS = {
    quotes: _word_pattern(quotes) for quotes in (DOUBLE_QUOTES, DOUBLE_QUOTES + SINGLE_QUOTES)
}
_QUOTE = {quotes: re.compile(f"[{re.escape(quotes)}]") for quotes in _WORDS}


def split_words(text: str, quotes: str = DOUBLE_QUOTES) -> list[str]:
    """Split on whitespace; a quoted stretch (its quotes dropped) stays inside one word:
    ``kunde="Café Bohne" sach`` → ``["kunde=Café Bohne", "sach"]``."""
    quote = _QUOTE[quotes]
    if quote.search(text) is None:
        return text.split()
    words: list[str] = _WORDS[quotes].findall(text)
    if any(len(word) == 1 and word in quotes for word in words):
        raise UnclosedQuote(text)
    if "\0" in text:
        return [quote.sub("", word) for word in words]
    # Dropping the quotes of all words in one pass is cheaper than word by word.
    return quote.sub("", "\0".join(words)).split("\0")
