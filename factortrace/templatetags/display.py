"""Display filters used on every page: units as people write them, numbers in the tenant's
language (``{% load display %}``: ``{{ record.unit|unit }}``, ``{{ record.quantity|num }}``)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import date_format, number_format

from emissions.engine.unit_display import display_unit

register = template.Library()


@register.filter
def unit(value: object) -> str:
    """'US_gallon' -> 'US gal', 'm ** 3' -> 'm³' (see emissions.engine.unit_display)."""
    return display_unit(value)


@register.filter
def num(value: object, decimals: int | str = 6) -> str:
    """A number in the active language's format with thousands grouping and at most
    ``decimals`` decimals, trailing zeros dropped: 1234.5 -> '1,234.5' (en) or '1.234,5' (de);
    45000.0 -> '45,000' / '45.000'. None or text that is no number gives '' or the text."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    places = int(decimals)
    rounded = round(number, places)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in {"-0", ""}:
        text = "0"
    shown = Decimal(text)
    exponent = shown.as_tuple().exponent
    decimal_pos = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return number_format(shown, decimal_pos=decimal_pos, use_l10n=True, force_grouping=True)


@register.filter
def day(value: object, style: str = "short") -> str:
    """A date (or ISO 'YYYY-MM-DD...' text) in the active language's short format:
    '31/12/2024' (en-gb), '31.12.2024' (de); ``day:"long"`` names the month ('31 Dec 2024',
    '31. Dezember 2024'), where day and month must not be mistaken. Other text comes back
    unchanged."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    return date_format(value, "DATE_FORMAT" if style == "long" else "SHORT_DATE_FORMAT")


@register.filter
def kg_headline(value: object) -> str:
    """A total in kg shown as a headline figure: whole kilograms from 1,000 kg up (the grams of
    a multi-tonne total are noise and do not fit its box), up to three decimals below."""
    try:
        size = abs(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return num(value)
    return num(value, 0 if size >= 1000 else 3)


# How a quantity's dimension reads to a user: a row with an amount and no quantity is spend.
DIMENSION_LABELS = {"money": "spend"}


@register.filter
def dimension(value: object) -> str:
    """'money' -> 'spend'; other dimensions (mass, volume, energy, distance...) as they are."""
    text = str(value or "")
    return DIMENSION_LABELS.get(text, text)


@register.filter
def change_pct(value: object) -> str:
    """A change in per cent to one decimal, in the language's format; a change that is not zero
    but rounds to 0.0 reads '< 0.1' (or '> -0.1'), never '0'."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return num(value)
    if number != 0 and abs(number) < 0.05:
        return ("< " if number > 0 else "> -") + num(0.1, 1)
    return num(number, 1)
