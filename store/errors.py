"""Domain errors: a stable code for operators and logs, a German message for users."""

from __future__ import annotations


class DomainError(Exception):
    """``field`` names the input at fault (e.g. ``"premium"``), so a form can mark it."""

    code: str = "domain_error"

    def __init__(
        self, message_de: str, *, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message_de)
        self.message_de = message_de
        self.field = field
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message_de}"


class NotFound(DomainError):
    code = "not_found"


class AccessDenied(DomainError):
    """Raised for tenders the actor may not see; says nothing about what exists."""

    code = "access_denied"


class NotABroker(DomainError):
    code = "not_a_broker"


class InvalidInput(DomainError):
    code = "invalid_input"

    def __init__(
        self, message_de: str, field: str | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(message_de, code=code, field=field)


class ReasonRequired(DomainError):
    code = "reason_required"  # rule T2


class RiskFrozen(DomainError):
    code = "risk_frozen"  # rule T3


class TenderClosed(DomainError):
    code = "tender_closed"


class ConversationNotOpen(DomainError):
    code = "conversation_not_open"  # rule M2


class RecalculationLocked(DomainError):
    code = "recalculation_locked"  # rule T6


class BudgetNotCovered(DomainError):
    """Rule P3; carries the account's numbers so an answer can show them."""

    code = "budget_not_covered"

    def __init__(self, message_de: str, *, balance_cents: int = 0, available_cents: int = 0):
        super().__init__(message_de)
        self.balance_cents = balance_cents
        self.available_cents = available_cents


class KonzeptOnlyNewBusiness(DomainError):
    code = "konzept_only_new_business"  # rule P3


class AlreadyDone(DomainError):
    code = "already_done"
