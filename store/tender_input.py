"""What a tender start must hold (rules T1–T3): the validated request and its field limits.

Validation problems surface as pydantic's ``ValidationError`` (field path and problem type);
the handlers that took the input say them in German next to the field.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from store.products import normalise_product

# One limit per free-text field, for the command, the start dialog and the store alike. None
# may exceed 3000: Slack's plain-text input allows no longer max_length, so a longer limit
# here would accept from the command what the dialog can never take.
CUSTOMER_NAME_MAX = 200
PRIOR_CLAIMS_MAX = 2000
DESCRIPTION_MAX = 3000
REASON_MAX = 2000


class RiskData(BaseModel):
    """The risk as the broker described it at start; frozen from then on (rule T3)."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    deductible: Decimal | None = Field(None, ge=0, description="Selbstbeteiligung in EUR")
    prior_claims: str = Field(min_length=1, max_length=PRIOR_CLAIMS_MAX)
    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)


class StartTender(BaseModel):
    """Rule T1 (and T2 when calculator offers exist): one product of one consultation."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    product: str
    customer_name: str = Field(min_length=1, max_length=CUSTOMER_NAME_MAX)
    risk: RiskData
    reason: str | None = Field(None, max_length=REASON_MAX)
    # An existing product line of the broker's consultation; None starts a new one.
    product_line_id: int | None = None
    # The platform's consultation id (``beratung=…``): the tender joins the newest line of
    # this product there, next to its calculator offers (T2).
    consultation: str | None = Field(None, max_length=64)
    previous_reference: str | None = None

    @field_validator("product")
    @classmethod
    def _known_product(cls, value: str) -> str:
        product = normalise_product(value)
        if product is None:
            raise ValueError(f"unknown product {value!r}")
        return product
