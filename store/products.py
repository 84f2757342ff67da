"""The product lines (Sparten) a tender can be run for."""

from __future__ import annotations

PRODUCT_LABELS: dict[str, str] = {
    "sach": "Sachversicherung",
    "inhalt": "Inhaltsversicherung",
    "gebaeude": "Gebäudeversicherung",
    "haftpflicht": "Betriebshaftpflicht",
    "rechtsschutz": "Firmenrechtsschutz",
    "cyber": "Cyberversicherung",
}

ALIASES: dict[str, str] = {
    "haft": "haftpflicht",
    "bhv": "haftpflicht",
    "rs": "rechtsschutz",
    "gebäude": "gebaeude",
}


def normalise_product(value: str) -> str | None:
    """The canonical product key for what a user typed, or None if unknown."""
    key = value.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in PRODUCT_LABELS else None


def product_label(product: str) -> str:
    return PRODUCT_LABELS.get(product, product)
