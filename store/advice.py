"""Where a broker turns about an expired offer (rule T10).

Through the message module where the backoffice opened it (M2); otherwise the contact
details of the start page, which the operator configures (``TENDERBOT_CONTACT``). Without
them configured, the advice can only name the start page.
"""

from __future__ import annotations

VIA_MODULE = (
    "Soll das Angebot verlängert werden, bitten Sie das Backoffice über das Nachrichtenmodul "
    "der Ausschreibung {reference}, den Versicherer zu kontaktieren."
)
NO_MODULE = "Für diese Ausschreibung ist noch kein Nachrichtenmodul geöffnet"
VIA_CONTACT = NO_MODULE + " – bitte wenden Sie sich an: {contact}"
VIA_START_PAGE = NO_MODULE + " – bitte nutzen Sie die Kontaktdaten auf der Startseite."


def contact_advice(contact: str | None) -> str:
    """The start page's contact details, or a pointer to the start page without them."""
    return VIA_CONTACT.format(contact=contact) if contact else VIA_START_PAGE


def expiry_advice(reference: str, conversation_open: bool, contact: str | None = None) -> str:
    if conversation_open:
        return VIA_MODULE.format(reference=reference)
    return "Soll das Angebot verlängert werden: " + contact_advice(contact)
