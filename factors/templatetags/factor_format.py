"""Template filters for factor values."""

from __future__ import annotations

import math

import numpy as np
from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def sig(value: float | None, digits: int = 6) -> str:
    """A factor with `digits` significant digits, never in exponent notation (1e-05 -> 0.00001),
    with the decimal separator of the active language (2.51279 in English, 2,51279 in German)."""
    if value is None:
        return "—"
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number == 0:
        return "0"
    text = str(
        np.format_float_positional(
            number, precision=digits, unique=False, fractional=False, trim="-"
        )
    )
    decimals = len(text.partition(".")[2])
    return number_format(text, decimal_pos=decimals, use_l10n=True)
