"""The validated requests a query parses into: one frozen dataclass per kind of question.

The parser checks every value (and names the field when it fails); the rules engine
then trusts these objects and never sees raw text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Sparte(StrEnum):
    """The lines of business (Branchen) the FirmenKonzept counts and discounts."""

    SACH = "sach"
    HAFT = "haft"
    RS = "rs"

    @property
    def label(self) -> str:
        return _SPARTE_LABELS[self]

    @staticmethod
    def ordered(sparten: Iterable[Sparte]) -> list[Sparte]:
        """Sach, Haftpflicht, Rechtsschutz – the order the business lists them in."""
        return sorted(sparten, key=list(Sparte).index)


_SPARTE_LABELS = {Sparte.SACH: "Sach", Sparte.HAFT: "Haftpflicht", Sparte.RS: "Rechtsschutz"}


class Geschaeft(StrEnum):
    ERSATZ = "ersatz"
    NEU = "neu"

    @property
    def label(self) -> str:
        return "Ersatzgeschäft" if self is Geschaeft.ERSATZ else "Neugeschäft"


class RiskClass(StrEnum):
    """The three constellations the seed names for the Risikobonus (rule P2)."""

    POSITIV = "positiv"
    DURCHSCHNITT = "durchschnitt"
    BESTIMMT = "bestimmt"

    @property
    def label(self) -> str:
        return _RISK_LABELS[self]


_RISK_LABELS = {
    RiskClass.POSITIV: "positive Konstellation",
    RiskClass.DURCHSCHNITT: "durchschnittliches Risiko",
    RiskClass.BESTIMMT: "bestimmtes (quersubventioniertes) Risiko",
}


@dataclass(frozen=True, slots=True)
class UmstellungRequest:
    """Rule P4: may a conversion discount be granted, and how much at most?"""

    sparte: Sparte
    renta: Decimal
    old_premium: Decimal
    new_premium: Decimal
    risikobonus: Decimal
    tarifjahr: int
    monate: int
    geschaeft: Geschaeft
    klasse: RiskClass | None = None
    # P4: replacement business in a FirmenKonzept segment? None: not stated (an open condition).
    segment: bool | None = None


@dataclass(frozen=True, slots=True)
class RisikobonusRequest:
    """Rule P2: the maximum Risikobonus of a risk class, optionally checking a wish."""

    klasse: RiskClass
    wunsch: Decimal | None = None


@dataclass(frozen=True, slots=True)
class KonzeptRequest:
    """Rule P3: is a Konzeptrabatt of `betrag` covered by the broker's account?

    `saldo`/`kredit` are None when the query left them to the caller's account data.
    """

    betrag: Decimal
    geschaeft: Geschaeft
    saldo: Decimal | None = None
    kredit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LineDrop:
    """A line of business that stopped being insured, and in which insurance year."""

    sparten: frozenset[Sparte]
    jahr: int


@dataclass(frozen=True, slots=True)
class SpezialistRequest:
    """Rule P5: the specialist discount for a stand-alone contents insurance."""

    inhalt: bool
    sparten: frozenset[Sparte]
    wegfall: LineDrop | None = None


@dataclass(frozen=True, slots=True)
class KombiRequest:
    """Rule P1: the combination discount for the insured lines of business."""

    sparten: frozenset[Sparte]
    zaehlstuecke: frozenset[Sparte]
    inhalt: bool = False
    beitrag: Decimal | None = None
    wegfall: LineDrop | None = None


@dataclass(frozen=True, slots=True)
class HilfeRequest:
    """`hilfe` (or an empty query): list the forms with examples."""


Request = (
    UmstellungRequest
    | RisikobonusRequest
    | KonzeptRequest
    | SpezialistRequest
    | KombiRequest
    | HilfeRequest
)
