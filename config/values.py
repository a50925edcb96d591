"""Value types shared by the settings sections: exact money, prices, counts, secrets.

Money in a config file is dollars, written as a TOML string (``"500"``) or number
(``500.0``). It is read into ``Decimal`` exactly and checked against the fixed-point unit
(1/10,000 dollar) by ``market.units``, so a limit that cannot be represented is rejected
rather than rounded. Floats never hold money.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr

from market.units import parse_count, parse_dollars, parse_price

RELOADABLE: dict[str, Any] = {"reloadable": True}
"""``json_schema_extra`` marker: the field may change on SIGHUP without a restart."""

PPM = 1_000_000
MAX_EXPONENT = 30


class Section(BaseModel):
    """Base of every settings section: frozen, unknown keys are errors, no NaN/inf."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        validate_default=True,
        use_attribute_docstrings=True,
    )


def _decimal(value: object) -> Decimal:
    """A TOML/env/CLI number or string -> Decimal, without passing through binary floats.

    A TOML float such as ``500.0`` or ``0.07`` is read through ``repr`` (the shortest
    string that round-trips), so it becomes exactly the decimal the user wrote.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number or a decimal string, got a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        return _in_range(Decimal(repr(value)))
    if isinstance(value, int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValueError("expected a finite number")
        return _in_range(Decimal(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not number.is_finite():
            raise ValueError("expected a finite number")
        return _in_range(number)
    raise ValueError(f"expected a number or a decimal string, got {type(value).__name__}")


def _in_range(number: Decimal) -> Decimal:
    # Far outside any sensible setting, and it keeps Decimal arithmetic from overflowing.
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise ValueError("number out of range")
    return number


def _dollars(value: object) -> Decimal:
    number = _decimal(value)
    parse_dollars(number)  # raises UnitError (a ValueError) on sub-unit precision
    return number


def _non_negative(number: Decimal) -> Decimal:
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _positive(number: Decimal) -> Decimal:
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _price(value: object) -> Decimal:
    number = _decimal(value)
    parse_price(number)
    return number


def _contracts(value: object) -> Decimal:
    number = _decimal(value)
    parse_count(number)
    return number


def _ppm_exact(value: object) -> Decimal:
    """A rate or multiplier kept to parts per million, which is what the fee code uses."""
    number = _non_negative(_decimal(value))
    if number * PPM != (number * PPM).to_integral_value():
        raise ValueError("more precision than 1/1,000,000 can hold exactly")
    return number


def _secret_not_empty(secret: SecretStr) -> SecretStr:
    if not secret.get_secret_value().strip():
        raise ValueError("must not be empty")
    return secret


Dollars = Annotated[Decimal, BeforeValidator(_dollars), AfterValidator(_non_negative)]
"""A non-negative money amount in dollars, exact to 1/10,000 dollar."""
PositiveDollars = Annotated[Decimal, BeforeValidator(_dollars), AfterValidator(_positive)]
Price = Annotated[Decimal, BeforeValidator(_price)]
"""A contract price in dollars, strictly between 0 and 1, exact to 1/10,000."""
Contracts = Annotated[Decimal, BeforeValidator(_contracts), AfterValidator(_positive)]
"""A positive number of contracts, exact to 1/100 contract."""
PpmDecimal = Annotated[Decimal, BeforeValidator(_ppm_exact)]
Secret = Annotated[SecretStr, AfterValidator(_secret_not_empty)]
"""A secret string: masked in repr, str and display; never empty."""


def dollars_to_units(amount: Decimal | None) -> int | None:
    """Config dollars -> integer money units (None stays None)."""
    return None if amount is None else parse_dollars(amount)


__all__ = [
    "PPM",
    "RELOADABLE",
    "Contracts",
    "Dollars",
    "PositiveDollars",
    "PpmDecimal",
    "Price",
    "Secret",
    "Section",
    "dollars_to_units",
]
