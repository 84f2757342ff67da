"""Properties of rule P4 over many generated contracts (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pricing.formats import format_euro
from pricing.money import HUNDRED
from pricing.query import parse_query
from pricing.requests import Geschaeft, RiskClass, Sparte, UmstellungRequest
from pricing.umstellung import compute_umstellung

CENT = Decimal("0.01")


def cents(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=2, allow_nan=False)


requests = st.builds(
    UmstellungRequest,
    sparte=st.sampled_from(list(Sparte)),
    renta=cents("0", "150"),
    old_premium=cents("0.01", "250000"),
    new_premium=cents("0.01", "250000"),
    risikobonus=cents("0", "20"),
    tarifjahr=st.integers(min_value=1990, max_value=2030),
    monate=st.integers(min_value=0, max_value=120),
    geschaeft=st.sampled_from(list(Geschaeft)),
    klasse=st.none() | st.sampled_from(list(RiskClass)),
)


@given(requests)
def test_it_never_answers_more_than_the_cap(request: UmstellungRequest) -> None:
    # P4b
    result = compute_umstellung(request)
    assert Decimal(0) <= result.max_percent <= result.cap
    assert result.max_percent == result.max_percent.quantize(CENT)


@given(requests)
def test_it_never_lets_the_discounted_premium_fall_below_its_floor(
    request: UmstellungRequest,
) -> None:
    # P4c–P4e, before and after rounding to cents. A premium already below the floor
    # (e.g. old + 10 % for an old tariff) gets no discount and so stays where it is.
    result = compute_umstellung(request)
    if result.floor is None:
        return
    bound = min(result.floor, result.premium_after)
    assert result.premium_after * (HUNDRED - result.max_percent) / HUNDRED >= bound
    assert result.discounted_premium is not None
    assert result.discounted_premium >= bound
    if result.max_percent > 0:
        assert result.discounted_premium >= result.floor
    assert result.floor >= request.old_premium


@given(requests)
def test_it_answers_the_largest_percentage_the_bounds_allow(request: UmstellungRequest) -> None:
    # P4b/P4c: one more hundredth of a percent would break the cap or the floor.
    result = compute_umstellung(request)
    if result.floor is None or result.max_percent == result.cap:
        return
    one_more = result.max_percent + CENT
    assert result.premium_after * (HUNDRED - one_more) / HUNDRED < result.floor


@given(requests)
def test_it_never_gives_ineligible_inputs_a_percentage(request: UmstellungRequest) -> None:
    # P4 preconditions and P4a.
    result = compute_umstellung(request)
    ineligible = (
        request.renta > 100 or request.geschaeft is not Geschaeft.ERSATZ or request.monate < 6
    )
    if ineligible:
        assert not result.eligible
    if not result.eligible or not result.needed:
        assert result.max_percent == 0
        assert result.floor is None


@given(requests.filter(lambda r: r.klasse is None))
def test_it_parses_a_query_into_the_request_it_was_written_from(
    request: UmstellungRequest,
) -> None:
    text = (
        f"umstellung monate={request.monate} sparte={request.sparte.value} "
        f'renta={request.renta}% alt="{format_euro(request.old_premium)}" '
        f"neu={request.new_premium} risikobonus={request.risikobonus} "
        f"tarifjahr={request.tarifjahr} geschäft={request.geschaeft.value}"
    )
    assert parse_query(text) == request
