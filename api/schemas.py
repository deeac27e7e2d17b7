"""The API's request and response shapes (pydantic, via django-ninja): the OpenAPI document is
built from them, and every response is validated against them before it leaves."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

Cell = StrictStr | StrictInt | StrictFloat | StrictBool | None


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ImportBatchIn(Strict):
    """A JSON batch: rows as objects (header -> cell), and how their keys map to fields."""

    rows: list[dict[str, Cell]] = Field(min_length=1, description="The rows, one object each.")
    mapping: dict[str, Any] | None = Field(
        None,
        description="An inline mapping: the mapping YAML format (columns, constants, options, "
        "filter) as JSON.",
    )
    template: str | None = Field(
        None, min_length=1, max_length=120, description="A mapping template saved in the wizard."
    )
    file_name: str | None = Field(
        None, min_length=1, max_length=200, description="The name the import shows (batch.csv)."
    )


class ImportQuery(Strict):
    allow_partial: bool = Field(False, description="Import the valid rows when others have errors.")
    duplicates: Literal["refuse", "skip", "import"] = Field(
        "refuse",
        description="Rows already in the inventory (same date, activity, quantity, unit, site): "
        "refuse the import, skip them, or import them anyway.",
    )


class RowErrorOut(Schema):
    row: int
    column: str
    value: str | None
    message: str
    suggestion: str | None


class CountsOut(Schema):
    rows: int
    valid: int
    invalid: int


class ImportAcceptedOut(Schema):
    id: int
    url: str
    status: str
    counts: CountsOut
    replayed: bool


class RunCountsOut(Schema):
    rows: int
    valid: int
    invalid: int
    duplicates: int
    skipped_duplicates: int
    records: int


class ImportOut(Schema):
    id: int
    url: str
    status: str
    file_name: str
    created_at: dt.datetime
    committed_at: dt.datetime | None
    progress: int
    message: str
    counts: RunCountsOut
    kg_co2e: float | None
    errors_total: int
    errors: list[RowErrorOut]
    choices: list[dict[str, Any]]


class ActivityQuery(Strict):
    period: str | None = Field(
        None,
        max_length=60,
        description="A reporting period's name (as in Settings) or a calendar year (2024).",
    )
    scope: int | None = Field(None, ge=0, le=3, description="1, 2 or 3; 0 for outside of scopes.")
    category: int | None = Field(None, ge=1, le=15, description="Scope 3 category, 1-15.")
    site: str | None = Field(None, max_length=255)
    import_run: int | None = Field(None, ge=1, le=2**63 - 1, description="An import's id.")
    cursor: str | None = Field(
        None, max_length=200, description="The `next_cursor` of the previous page."
    )
    limit: int = Field(100, ge=1, le=1000)


class ActivityOut(Schema):
    id: int
    date: dt.date
    period_end: dt.date | None
    activity: str
    site: str
    supplier: str
    country: str
    quantity: float | None
    unit: str
    amount: float | None
    currency: str
    scope: int
    category: int | None
    kg_co2e: float
    kg_co2e_market: float | None
    gwp_set: str
    factor_id: int | None
    supplier_factor_id: int | None
    factor_version: str
    data_quality: str
    line_kind: str
    import_run: int | None
    source_row: int | None


class ActivityPageOut(Schema):
    results: list[ActivityOut]
    next_cursor: str | None


class InventoryQuery(Strict):
    period: str | None = Field(
        None,
        max_length=60,
        description="A reporting period's name (as in Settings) or a calendar year (2024); "
        "none: the whole inventory.",
    )


class PeriodOut(Schema):
    name: str
    start: dt.date
    end: dt.date


class TotalsOut(Schema):
    records: int
    location: float
    market: float
    scope_1: float
    scope_2_location: float
    scope_2_market: float
    scope_3: float
    outside: float


class BreakdownRowOut(Schema):
    key: str | int | None
    label: str
    records: int
    location_kg: float
    market_kg: float


class IntervalOut(Schema):
    deterministic: float
    p2_5: float
    p97_5: float


class UncertaintyOut(Schema):
    computed_at: dt.datetime | None
    pending: bool
    intervals_kg: dict[str, IntervalOut]


class InventoryOut(Schema):
    period: PeriodOut | None
    totals_kg: TotalsOut
    by_scope: list[BreakdownRowOut]
    by_category: list[BreakdownRowOut]
    by_month: list[BreakdownRowOut]
    by_site: list[BreakdownRowOut]
    by_data_quality: list[BreakdownRowOut]
    uncertainty_95: UncertaintyOut


class FactorQuery(Strict):
    search: str = Field("", max_length=200, description="Words, all required (as the browser).")
    dataset: str = Field("", max_length=64)
    scope: str = Field("", max_length=8)
    region: str = Field("", max_length=32)
    dimension: str = Field("", max_length=64)
    year: str = Field("", max_length=8)
    page: int = Field(1, ge=1, le=100_000)


class FactorOut(Schema):
    id: int
    name: str
    category: str
    dataset: str
    dataset_version: int
    dataset_is_current: bool
    publisher_id: str
    scope: str
    scope3_category: int | None
    region: str
    unit: str
    unit_dimension: str
    kg_co2e: float
    co2: float | None
    ch4: float | None
    n2o: float | None
    other_ghg: float | None
    gwp_set: str
    year: int | None
    uncertainty_low: float | None
    uncertainty_high: float | None


class SupplierFactorOut(Schema):
    id: int
    name: str
    scope: str
    region: str
    unit: str


class FactorPageOut(Schema):
    count: int
    page: int
    pages: int
    results: list[FactorOut]
    supplier_factors: list[SupplierFactorOut]


class ProblemOut(Schema):
    """RFC 9457 problem details, with a stable ``code``; row errors in ``errors``."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str


# ---- reports and credits --------------------------------------------------------------------------

ReportFormat = Literal["pdf", "ixbrl", "package", "template"]
DownloadFormat = Literal["pdf", "xhtml", "package", "template"]


class ReportIn(Strict):
    regime: str = Field(
        min_length=1,
        max_length=20,
        pattern=r"^[a-z0-9_]+$",
        description="The regime's key: esrs_e1 or vsme.",
    )
    period: str = Field(
        min_length=1,
        max_length=60,
        pattern=r"^[^\x00]+$",
        description="A reporting period's name (as in Settings) or a year (2024: the period "
        "starting in that year).",
    )
    formats: list[ReportFormat] = Field(
        default_factory=list,
        max_length=4,
        description="What to render; none: every format the regime has. The iXBRL is always made.",
    )


class ReportVerdictOut(Schema):
    verdict: str
    checked_by: str | None
    error_count: int
    warning_count: int
    errors: list[Any]
    warnings: list[Any]
    unavailable: str | None


class ReportPeriodOut(Schema):
    name: str
    start: dt.date
    end: dt.date


class ReportOut(Schema):
    id: int
    url: str
    regime: str
    period: ReportPeriodOut
    version: int
    formats: list[str]
    status: str
    progress: int
    error: str
    verdict: ReportVerdictOut
    created_by: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    downloads: dict[str, str] = Field(
        description="format -> URL, for the files a final report has (none otherwise)."
    )


class ReportListOut(Schema):
    results: list[ReportOut]


class ReportAcceptedOut(ReportOut):
    replayed: bool
    credits_left: int


class LedgerRowOut(Schema):
    id: int
    kind: str
    credits: int
    balance_after: int
    reason: str
    actor: str
    report_id: int | None
    created_at: dt.datetime


class CreditsOut(Schema):
    balance: int
    ledger: list[LedgerRowOut]


class CreditsQuery(Strict):
    limit: int = Field(100, ge=1, le=1000, description="How many ledger rows, newest first.")


class VoucherIn(Strict):
    code: str = Field(
        min_length=1, max_length=60, description="The voucher code, FT-XXXX-XXXX-XXXX."
    )


class VoucherOut(Schema):
    code: str
    credits_added: int
    balance: int
