"""The German query language of `/rabatt` and `tenderbot rabatt`, parsed into one request.

    umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 tarifjahr=2015 monate=24

The first word names the question, the rest are `feld=wert` pairs (order free) or bare
flags (`spezialist inhalt haft rs`). Every failure raises QueryError with a German
message that names the offending word and shows a correct example.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from pricing.formats import (
    DOUBLE_QUOTES,
    SINGLE_QUOTES,
    NumberFormatError,
    UnclosedQuote,
    Unit,
    normalise_word,
    parse_number,
    split_words,
)
from pricing.money import HUNDRED, ZERO
from pricing.requests import (
    Geschaeft,
    HilfeRequest,
    KombiRequest,
    KonzeptRequest,
    LineDrop,
    Request,
    RisikobonusRequest,
    RiskClass,
    Sparte,
    SpezialistRequest,
    UmstellungRequest,
)

E = TypeVar("E")


class QueryError(ValueError):
    """A query that cannot be answered as written; `str(error)` is the German message."""

    def __init__(self, message: str, *, word: str | None = None, example: str | None = None):
        full = f"{message}\nBeispiel: `{example}`" if example else message
        super().__init__(full)
        self.message = full
        self.word = word
        self.example = example


@dataclass(frozen=True, slots=True)
class Form:
    """One kind of question: its keys and flags (alias → canonical) and a worked example."""

    name: str
    title: str
    keys: Mapping[str, str]
    flags: Mapping[str, str]
    required: tuple[str, ...]
    example: str


def _aliases(**canonical: tuple[str, ...]) -> dict[str, str]:
    return {alias: name for name, aliases in canonical.items() for alias in (name, *aliases)}


_SPARTE_FLAGS = _aliases(
    sach=("sachversicherung",),
    haft=("haftpflicht", "bhv", "betriebshaftpflicht", "berufshaftpflicht"),
    rs=("rechtsschutz",),
)

UMSTELLUNG = Form(
    name="umstellung",
    title="Umstellungsnachlass (P4)",
    keys=_aliases(
        sparte=("branche",),
        renta=("vorvertragsrenta",),
        alt=("bisher", "altbeitrag", "bisheriger"),
        neu=("neubeitrag",),
        risikobonus=("rb",),
        tarifjahr=("tarif", "tarifgeneration"),
        monate=("bestand", "laufzeit"),
        geschaeft=("geschaeftsart", "art"),
        klasse=("risikoklasse",),
        segment=("firmenkonzept", "fk_segment"),
    ),
    flags={},
    required=("sparte", "renta", "alt", "neu", "tarifjahr", "monate"),
    example=(
        "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 "
        "tarifjahr=2015 monate=24 geschaeft=ersatz segment=ja"
    ),
)
RISIKOBONUS = Form(
    name="risikobonus",
    title="Risikobonus (P2)",
    keys=_aliases(klasse=("risikoklasse", "risiko"), wunsch=("gewuenscht", "prozent")),
    flags={},
    required=("klasse",),
    example="risikobonus klasse=durchschnitt wunsch=15",
)
KONZEPT = Form(
    name="konzept",
    title="Konzeptrabatt (P3)",
    keys=_aliases(
        betrag=("rabatt", "nachlass"),
        saldo=("guthaben", "konto"),
        kredit=("kreditrahmen",),
        geschaeft=("geschaeftsart", "art"),
    ),
    flags={},
    required=("betrag", "geschaeft"),
    example="konzept betrag=250 saldo=400 kredit=0 geschaeft=neu",
)
SPEZIALIST = Form(
    name="spezialist",
    title="Spezialistennachlass (P5)",
    keys=_aliases(wegfall=("weggefallen",), jahr=("versicherungsjahr",)),
    flags={**_aliases(inhalt=("inhaltsversicherung",)), **_SPARTE_FLAGS},
    required=(),
    example="spezialist inhalt haft rs",
)
KOMBI = Form(
    name="kombi",
    title="Kombirabatt (P1)",
    keys=_aliases(
        beitrag=("praemie",),
        zaehlstueck=("zaehlstuecke",),
        wegfall=("weggefallen",),
        jahr=("versicherungsjahr",),
    ),
    flags={**_aliases(inhalt=("inhaltsversicherung",)), **_SPARTE_FLAGS},
    required=(),
    example="kombi sach haft rs beitrag=1.500 €",
)
HILFE = Form(name="hilfe", title="Hilfe", keys={}, flags={}, required=(), example="hilfe")

FORMS = (UMSTELLUNG, RISIKOBONUS, KONZEPT, SPEZIALIST, KOMBI, HILFE)
_COMMANDS = {
    **_aliases(
        umstellung=("umstellungsnachlass",),
        risikobonus=("rb",),
        konzept=("konzeptrabatt",),
        spezialist=("spezialistennachlass",),
        kombi=("kombirabatt", "kombinachlass"),
        hilfe=("help", "?"),
    )
}
_FORMS_BY_NAME = {form.name: form for form in FORMS}

# What each field means, for "es fehlt" messages.
_FIELD_MEANING = {
    "sparte": "Branche: sach, haft oder rs",
    "renta": "Vorvertragsrenta in %",
    "alt": "bisheriger Beitrag in €",
    "neu": "neuer Beitrag vor Risikobonus in €",
    "tarifjahr": "Tarifjahr des Bestandsvertrags",
    "monate": "Monate im Bestand",
    "klasse": "positiv, durchschnitt oder bestimmt",
    "betrag": "gewünschter Konzeptrabatt in €",
    "geschaeft": "ersatz oder neu",
    "segment": "ja oder nein: Ersatzgeschäft im FirmenKonzept-fähigen Segment",
    "saldo": "Guthaben des Konzeptrabattkontos in €",
}

_SPARTEN = {alias: Sparte(name) for alias, name in _SPARTE_FLAGS.items()}
_JA_NEIN = {"ja": True, "j": True, "yes": True, "nein": False, "n": False, "no": False}
_GESCHAEFT = {
    alias: Geschaeft(name)
    for alias, name in _aliases(
        ersatz=("ersatzgeschaeft",), neu=("neugeschaeft", "neugeschaft")
    ).items()
}
_KLASSEN = {
    alias: RiskClass(name)
    for alias, name in _aliases(
        positiv=("positive", "positiver", "pos"),
        durchschnitt=("durchschnittlich", "durchschnittliche", "durchschnittliches", "mittel"),
        bestimmt=("bestimmte", "bestimmtes", "quersubventioniert"),
    ).items()
}

# No names occur in a query, so single quotes group words too: neu='1.500 €'.
_QUOTES = DOUBLE_QUOTES + SINGLE_QUOTES
# A unit written apart from its number still belongs to it: beitrag=1.500 €.
_UNITS = frozenset({"€", "%", "eur", "euro"})


def normalise(word: str) -> str:
    """Lower case with umlauts spelled out, so `Geschäft` and `geschaeft` are one key."""
    return normalise_word(word).strip(",;.")


@dataclass(frozen=True, slots=True)
class _Parsed:
    values: dict[str, str]
    flags: frozenset[str]


def parse_query(text: str) -> Request:
    """Parse a German query into one validated request; raise QueryError otherwise."""
    # People paste the examples from our own messages, backticks and all.
    stripped = text.strip().strip("`").strip()
    if not stripped:
        return HilfeRequest()
    head, *tail = stripped.split(maxsplit=1)
    command = normalise(head)
    if "=" in head or command not in _COMMANDS:
        raise _unknown_command(head)
    form = _FORMS_BY_NAME[_COMMANDS[command]]
    if form is HILFE:
        return HilfeRequest()
    rest = tail[0] if tail else ""
    parsed = _tokens(form, rest)
    missing = [name for name in form.required if name not in parsed.values]
    if missing:
        name = missing[0]
        raise QueryError(
            f"Es fehlt das Feld „{name}“ ({_FIELD_MEANING[name]}) in der Anfrage „{form.name}“.",
            word=name,
            example=form.example,
        )
    return _BUILDERS[form.name](form, parsed)


def _unknown_command(head: str) -> QueryError:
    names = ", ".join(form.name for form in FORMS)
    hint = _suggest(normalise(head), _COMMANDS)
    return QueryError(
        f"Unbekannte Anfrage „{head}“. Beginnen Sie mit einer von: {names}.{hint}",
        word=head,
        example=UMSTELLUNG.example,
    )


def _suggest(word: str, choices: Mapping[str, str]) -> str:
    # Only a mistyped query needs difflib; the imports stay out of every CLI start-up.
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" Meinten Sie „{choices[close[0]]}“?" if close else ""


def _pairs(form: Form, text: str) -> list[tuple[str, str | None]]:
    """The query's words as (key, value) pairs, a bare flag as (word, None).

    `renta = 40` is one pair like `renta=40`, and a unit written apart joins its value.
    """
    try:
        words = split_words(text, _QUOTES)
    except UnclosedQuote:
        raise QueryError(
            f"Ein Anführungszeichen wurde nicht geschlossen (Anfrage „{form.name}“).",
            example=form.example,
        ) from None
    pairs: list[tuple[str, str | None]] = []
    index, count = 0, len(words)
    while index < count:
        word = words[index]
        index += 1
        key, equals, value = word.partition("=")
        if not equals:
            if index < count and words[index].startswith("="):
                # `renta =40` or `renta = 40`
                key, equals, value = word, "=", words[index][1:]
                index += 1
            else:
                pairs.append((word, None))
                continue
        if not key:
            raise QueryError(
                f"Unerwartetes Zeichen „=“ in der Anfrage „{form.name}“.",
                word="=",
                example=form.example,
            )
        if not value and index < count and "=" not in words[index]:
            # `renta= 40`
            value = words[index]
            index += 1
        if value and index < count and words[index].lower() in _UNITS:
            value += " " + words[index]
            index += 1
        pairs.append((key, value))
    return pairs


def _tokens(form: Form, text: str) -> _Parsed:
    values: dict[str, str] = {}
    flags: set[str] = set()
    for key_raw, value in _pairs(form, text):
        if value is None:
            flags.add(_flag(form, key_raw))
            continue
        # Most keys arrive as written in the examples; normalise only the others.
        key = form.keys.get(key_raw) or form.keys.get(normalise(key_raw))
        if key is None:
            raise _unknown_word(form, key_raw, form.keys)
        if not value.strip():
            raise QueryError(f"Für „{key_raw}“ fehlt der Wert.", word=key_raw, example=form.example)
        if key in values:
            raise QueryError(
                f"Das Feld „{key}“ ist doppelt angegeben.", word=key_raw, example=form.example
            )
        values[key] = value.strip()
    return _Parsed(values=values, flags=frozenset(flags))


def _flag(form: Form, raw: str) -> str:
    if raw in form.flags:
        return form.flags[raw]
    word = normalise(raw)
    if word in form.flags:
        return form.flags[word]
    if word in form.keys:
        raise QueryError(
            f"Für „{raw}“ fehlt der Wert (schreiben Sie {form.keys[word]}=…).",
            word=raw,
            example=form.example,
        )
    raise _unknown_word(form, raw, {**form.keys, **form.flags})


def _unknown_word(form: Form, raw: str, allowed: Mapping[str, str]) -> QueryError:
    canonical = sorted(set(allowed.values()), key=list(allowed.values()).index)
    listing = ", ".join(canonical) if canonical else "keine weiteren Angaben"
    hint = _suggest(normalise(raw), allowed)
    if not hint and normalise(raw) in _SPARTEN and "sparte" in canonical:
        hint = f" Meinten Sie „sparte={normalise(raw)}“?"
    return QueryError(
        f"Unbekanntes Wort „{raw}“ in der Anfrage „{form.name}“. Erlaubt: {listing}.{hint}",
        word=raw,
        example=form.example,
    )


# --- value converters: each names its field in the error -------------------------------


def _number(form: Form, name: str, raw: str, forbidden: Unit) -> Decimal:
    try:
        value, unit = parse_number(raw)
    except NumberFormatError:
        raise QueryError(
            f"„{raw}“ ist keine Zahl (Feld „{name}“). Erlaubt sind z. B. 1.234,56 oder 40 %.",
            word=raw,
            example=form.example,
        ) from None
    if unit is forbidden:
        raise QueryError(
            f"Feld „{name}“ erwartet keinen Wert in {forbidden.value}: „{raw}“.",
            word=raw,
            example=form.example,
        )
    return value


def _percent(
    form: Form, name: str, raw: str, *, high: Decimal = HUNDRED, low: Decimal = ZERO
) -> Decimal:
    value = _number(form, name, raw, Unit.EURO)
    if not low <= value <= high:
        raise QueryError(
            f"Feld „{name}“ muss zwischen {low} und {high} % liegen, nicht „{raw}“.",
            word=raw,
            example=form.example,
        )
    return value


def _money(form: Form, name: str, raw: str, *, positive: bool = True) -> Decimal:
    value = _number(form, name, raw, Unit.PERCENT)
    if positive and value <= ZERO:
        raise QueryError(
            f"Feld „{name}“ muss größer als 0 sein, nicht „{raw}“.", word=raw, example=form.example
        )
    if value != value.quantize(Decimal("0.01")):
        raise QueryError(
            f"Feld „{name}“ hat mehr als zwei Nachkommastellen: „{raw}“.",
            word=raw,
            example=form.example,
        )
    return value


def _integer(form: Form, name: str, raw: str, *, low: int, high: int) -> int:
    value = _number(form, name, raw, Unit.EURO)
    if value != value.to_integral_value() or not low <= value <= high:
        raise QueryError(
            f"Feld „{name}“ muss eine ganze Zahl von {low} bis {high} sein, nicht „{raw}“.",
            word=raw,
            example=form.example,
        )
    return int(value)


def _choice(form: Form, name: str, raw: str, choices: Mapping[str, E]) -> E:
    found = choices.get(raw)
    if found is None:
        found = choices.get(normalise(raw))
    if found is None:
        allowed = ", ".join(dict.fromkeys(str(v) for v in choices.values()))
        raise QueryError(
            f"Unbekannter Wert „{raw}“ für „{name}“. Erlaubt: {allowed}.",
            word=raw,
            example=form.example,
        )
    return found


def _sparten(form: Form, name: str, raw: str, *, inhalt: bool) -> frozenset[Sparte]:
    choices: dict[str, Sparte] = dict(_SPARTEN)
    if inhalt:
        # The contents insurance is the Sach line of a stand-alone contents contract.
        choices["inhalt"] = Sparte.SACH
    parts = [part for part in re.split(r"[,+/]", raw) if part.strip()]
    return frozenset(_choice(form, name, part, choices) for part in parts)


def _drop(form: Form, parsed: _Parsed, named: frozenset[Sparte]) -> LineDrop | None:
    values = parsed.values
    if "wegfall" not in values:
        if "jahr" in values:
            raise QueryError(
                "„jahr“ gehört zu „wegfall“: in welchem Versicherungsjahr fiel die Branche weg?",
                word="jahr",
                example=f"{form.example} wegfall=rs jahr=1",
            )
        return None
    dropped = _sparten(form, "wegfall", values["wegfall"], inhalt=True)
    outside = dropped - named
    if outside:
        (first, *_) = sorted(outside)
        raise QueryError(
            f"„wegfall={first.value}“: diese Branche ist in der Anfrage nicht versichert.",
            word=values["wegfall"],
            example=f"{form.example} wegfall=rs jahr=1",
        )
    jahr = _integer(form, "jahr", values.get("jahr", "1"), low=1, high=100)
    return LineDrop(sparten=dropped, jahr=jahr)


# --- builders: one per form -------------------------------------------------------------


def _build_umstellung(form: Form, parsed: _Parsed) -> UmstellungRequest:
    v = parsed.values
    klasse = _choice(form, "klasse", v["klasse"], _KLASSEN) if "klasse" in v else None
    return UmstellungRequest(
        sparte=_choice(form, "sparte", v["sparte"], _SPARTEN),
        # Above 100 % is a valid input that the rules refuse with a reason (P4).
        renta=_percent(form, "renta", v["renta"], high=Decimal(1000)),
        old_premium=_money(form, "alt", v["alt"]),
        new_premium=_money(form, "neu", v["neu"]),
        risikobonus=_percent(form, "risikobonus", v.get("risikobonus", "0"), high=Decimal(20)),
        tarifjahr=_integer(form, "tarifjahr", v["tarifjahr"], low=1900, high=2100),
        monate=_integer(form, "monate", v["monate"], low=0, high=1200),
        geschaeft=_choice(form, "geschaeft", v.get("geschaeft", "ersatz"), _GESCHAEFT),
        klasse=klasse,
        segment=_choice(form, "segment", v["segment"], _JA_NEIN) if "segment" in v else None,
    )


def _build_risikobonus(form: Form, parsed: _Parsed) -> RisikobonusRequest:
    v = parsed.values
    return RisikobonusRequest(
        klasse=_choice(form, "klasse", v["klasse"], _KLASSEN),
        wunsch=_percent(form, "wunsch", v["wunsch"]) if "wunsch" in v else None,
    )


def _build_konzept(form: Form, parsed: _Parsed) -> KonzeptRequest:
    v = parsed.values
    kredit = _money(form, "kredit", v["kredit"], positive=False) if "kredit" in v else None
    if kredit is not None and kredit < ZERO:
        raise QueryError(
            f"Feld „kredit“ darf nicht negativ sein, nicht „{v['kredit']}“.",
            word=v["kredit"],
            example=form.example,
        )
    return KonzeptRequest(
        betrag=_money(form, "betrag", v["betrag"]),
        geschaeft=_choice(form, "geschaeft", v["geschaeft"], _GESCHAEFT),
        saldo=_money(form, "saldo", v["saldo"], positive=False) if "saldo" in v else None,
        kredit=kredit,
    )


def _lines(parsed: _Parsed) -> frozenset[Sparte]:
    return frozenset(Sparte(flag) for flag in parsed.flags if flag != "inhalt")


def _build_spezialist(form: Form, parsed: _Parsed) -> SpezialistRequest:
    sparten = _lines(parsed)
    if Sparte.SACH in sparten:
        raise QueryError(
            "Beim Spezialistennachlass heißt die Sach-Inhaltsversicherung „inhalt“, nicht „sach“.",
            word="sach",
            example=form.example,
        )
    inhalt = "inhalt" in parsed.flags
    named = sparten | ({Sparte.SACH} if inhalt else set())
    return SpezialistRequest(inhalt=inhalt, sparten=sparten, wegfall=_drop(form, parsed, named))


def _build_kombi(form: Form, parsed: _Parsed) -> KombiRequest:
    v = parsed.values
    sparten = _lines(parsed)
    inhalt = "inhalt" in parsed.flags
    zaehl = (
        _sparten(form, "zaehlstueck", v["zaehlstueck"], inhalt=False)
        if "zaehlstueck" in v
        else frozenset()
    )
    if not (sparten or zaehl or inhalt):
        raise QueryError(
            "Nennen Sie die Branchen (sach, haft, rs), die gezählt werden sollen.",
            word="kombi",
            example=form.example,
        )
    named = sparten | zaehl | ({Sparte.SACH} if inhalt else set())
    return KombiRequest(
        sparten=sparten,
        zaehlstuecke=zaehl,
        inhalt=inhalt,
        beitrag=_money(form, "beitrag", v["beitrag"]) if "beitrag" in v else None,
        wegfall=_drop(form, parsed, named),
    )


_BUILDERS: dict[str, Callable[[Form, _Parsed], Request]] = {
    "umstellung": _build_umstellung,
    "risikobonus": _build_risikobonus,
    "konzept": _build_konzept,
    "spezialist": _build_spezialist,
    "kombi": _build_kombi,
}
