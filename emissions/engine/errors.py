"""Structured errors of the calculation engine.

Every problem the engine finds in input data is an :class:`EngineError` that names the offending
value, says what was expected and, where it can, suggests a fix. Row-level problems are returned
inside result frames as ``EngineError.to_dict()`` payloads (never raised); frame-level contract
violations (a missing required column, duplicate factor keys) are raised.

Public API
----------
- ``EngineError(message, *, value=None, expected=None, suggestion=None, code=None)``: base class,
  attributes ``value``, ``message``, ``expected``, ``suggestion``, ``code``; ``to_dict()``.
- ``UnitError``: a unit is missing, unknown or ambiguous.
- ``DimensionError``: a unit cannot be converted to the unit a factor needs.
- ``CurrencyError``: a currency is unknown, or no exchange rate / price index covers a date.
- ``QuantityError``: a quantity is missing, not a number, infinite, or negative outside a correction.
- ``FactorError``: a factor is unknown, incomplete or not finite.
- ``InputError``: any other invalid input value (scope, category, tier, date, GWP set, gas).
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """A problem with one input value, described well enough for a person to fix it."""

    code = "engine_error"

    def __init__(
        self,
        message: str,
        *,
        value: Any = None,
        expected: str | None = None,
        suggestion: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.value = value
        self.expected = expected
        self.suggestion = suggestion
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description: type, code, message, value, expected, suggestion."""
        value = self.value
        if value is not None and not isinstance(value, str | int | float | bool):
            value = str(value)
        return {
            "type": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "value": value,
            "expected": self.expected,
            "suggestion": self.suggestion,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, value={self.value!r})"


class UnitError(EngineError):
    """A unit is missing, unknown or ambiguous."""

    code = "unit"


class DimensionError(EngineError):
    """A quantity's unit cannot reach the unit its factor is expressed in."""

    code = "dimension"


class CurrencyError(EngineError):
    """A currency is unknown, or no exchange rate or price index covers the date."""

    code = "currency"


class QuantityError(EngineError):
    """A quantity is missing, not a number, infinite, or negative outside a correction."""

    code = "quantity"


class FactorError(EngineError):
    """An emission factor is unknown, incomplete or not finite."""

    code = "factor"


class InputError(EngineError):
    """Any other invalid input value (scope, category, tier, date, GWP set, gas name)."""

    code = "input"
