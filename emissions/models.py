"""A tenant's inventory: activity records with their computed results, and its supplier-specific factors.

Every computed record keeps what it was computed with (factor, dataset version, GWP set, conversion
path, FX rate), so a report can say exactly how each number was made and pin the factor versions.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class Scope(models.IntegerChoices):
    OUTSIDE = 0, "Outside of scopes"  # e.g. biogenic CO2, reported separately under ESRS E1
    SCOPE_1 = 1, "Scope 1"
    SCOPE_2 = 2, "Scope 2"
    SCOPE_3 = 3, "Scope 3"


class Scope3Category(models.IntegerChoices):
    """GHG Protocol Corporate Value Chain (Scope 3) Standard, categories 1-15."""

    PURCHASED_GOODS = 1, "1 Purchased goods and services"
    CAPITAL_GOODS = 2, "2 Capital goods"
    FUEL_ENERGY = 3, "3 Fuel- and energy-related activities"
    UPSTREAM_TRANSPORT = 4, "4 Upstream transportation and distribution"
    WASTE = 5, "5 Waste generated in operations"
    BUSINESS_TRAVEL = 6, "6 Business travel"
    COMMUTING = 7, "7 Employee commuting"
    UPSTREAM_LEASED = 8, "8 Upstream leased assets"
    DOWNSTREAM_TRANSPORT = 9, "9 Downstream transportation and distribution"
    PROCESSING = 10, "10 Processing of sold products"
    USE_OF_SOLD = 11, "11 Use of sold products"
    END_OF_LIFE = 12, "12 End-of-life treatment of sold products"
    DOWNSTREAM_LEASED = 13, "13 Downstream leased assets"
    FRANCHISES = 14, "14 Franchises"
    INVESTMENTS = 15, "15 Investments"


class Tier(models.TextChoices):
    PRIMARY = "primary", "Primary (supplier-specific)"
    SECONDARY = "secondary", "Secondary (activity-based)"
    SPEND = "spend", "Spend-based"


class DataQuality(models.TextChoices):
    """How the activity figure itself was obtained (its own uncertainty, separate from the factor's):
    defaults per tier in data/uncertainty/defaults.yml."""

    METERED = "metered", "Metered"
    INVOICED = "invoiced", "Invoiced"
    ESTIMATED = "estimated", "Estimated"
    SPEND_BASED = "spend_based", "Spend-based"


class FactorBasis(models.TextChoices):
    ACTIVITY = "activity", "Activity"
    SPEND = "spend", "Spend"
    LOCATION = "location", "Location-based"
    MARKET = "market", "Market-based"
    RESIDUAL_MIX = "residual_mix", "Residual mix"
    SUPPLIER = "supplier", "Supplier-specific"


class SupplierFactor(models.Model):
    """A tenant's own factor (a supplier's EPD, a green-tariff contract...); preferred over the library."""

    name = models.CharField(max_length=300)
    supplier = models.CharField(max_length=200, blank=True)
    scope = models.SmallIntegerField(choices=Scope.choices)
    category = models.SmallIntegerField(choices=Scope3Category.choices, null=True, blank=True)
    region = models.CharField(max_length=20, default="GLOBAL")
    unit = models.CharField(
        max_length=60, help_text="The unit the factor is per, e.g. kWh, L, kg, EUR."
    )
    kg_co2e = models.FloatField(help_text="kg CO2e per unit.")
    kg_co2 = models.FloatField(null=True, blank=True)
    kg_ch4_co2e = models.FloatField(null=True, blank=True)
    kg_n2o_co2e = models.FloatField(null=True, blank=True)
    kg_other_co2e = models.FloatField(null=True, blank=True)
    gwp_set = models.CharField(max_length=8, default="AR5")
    basis = models.CharField(
        max_length=20, choices=FactorBasis.choices, default=FactorBasis.SUPPLIER
    )
    currency = models.CharField(max_length=3, blank=True)
    price_year = models.SmallIntegerField(null=True, blank=True)
    year = models.SmallIntegerField(null=True, blank=True)
    uncertainty_gsd = models.FloatField(
        null=True, blank=True, help_text="Geometric standard deviation."
    )
    source_note = models.TextField(help_text="Where the value comes from: document, date, contact.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kg_co2e} kg CO2e/{self.unit})"


class LineKind(models.TextChoices):
    """What a record is: the activity itself, or a companion line the GHG Protocol reports with it
    (see emissions/companions.py)."""

    MAIN = "main", "Activity"
    WTT = "wtt", "Well-to-tank"
    TD = "td", "Transmission and distribution losses"
    TD_WTT = "td_wtt", "Well-to-tank of T&D losses"


class InventorySettings(models.Model):
    """A tenant's inventory settings (one row per tenant schema; none means the defaults)."""

    companion_lines = models.BooleanField(
        default=True,
        help_text="Add the well-to-tank and T&D lines (Scope 3) to fuel, electricity, travel and "
        "freight activities.",
    )

    def __str__(self) -> str:
        return f"Inventory settings (companion lines {'on' if self.companion_lines else 'off'})"

    @classmethod
    def current(cls) -> InventorySettings:
        found = cls.objects.order_by("id").first()
        return found if found is not None else cls()


class ActivityRecord(models.Model):
    """One activity (a fuel purchase, a meter reading, a flight, a purchase line) and its emissions.

    Its foreign keys carry no database constraint (and the factor and author keys no index): an import writes up to millions of records with
    one COPY, and a constraint checks every row with a query (four per row here). Django still
    enforces on_delete (PROTECT, CASCADE) when the referenced rows are deleted, which only the ORM
    does: factors are never deleted, import runs only through their undo.
    """

    import_run = models.ForeignKey(
        "imports.ImportRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="records",
        db_constraint=False,
    )
    source_row = models.PositiveIntegerField(
        null=True, blank=True, help_text="Row number in the file."
    )
    date = models.DateField()
    period_end = models.DateField(null=True, blank=True)
    # The import pipeline's text limits (imports.pipeline.normalise.TEXT_MAX_LENGTH): longer text
    # is reported as an error there, never cut here.
    activity = models.CharField(max_length=500)
    site = models.CharField(max_length=255, blank=True)
    supplier = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=20, blank=True)
    notes = models.TextField(blank=True)
    is_correction = models.BooleanField(default=False)

    quantity = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=60, blank=True)
    amount = models.FloatField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    amount_eur = models.FloatField(null=True, blank=True)

    scope = models.SmallIntegerField(choices=Scope.choices)
    category = models.SmallIntegerField(choices=Scope3Category.choices, null=True, blank=True)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    # Spend-based for records computed with a money factor, else what the import said (or the
    # documented default): emissions.uncertainty_defaults.record_data_quality.
    data_quality = models.CharField(
        max_length=12,
        choices=DataQuality.choices,
        default=DataQuality.ESTIMATED,
        db_default=DataQuality.ESTIMATED,
    )

    factor = models.ForeignKey(
        "factors.EmissionFactor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    supplier_factor = models.ForeignKey(
        SupplierFactor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
        db_constraint=False,
        db_index=False,
    )
    factor_version = models.CharField(
        max_length=80, help_text="Dataset key and version the factor came from."
    )
    gwp_set = models.CharField(max_length=8)

    kg_co2e = models.FloatField()
    kg_co2 = models.FloatField(null=True, blank=True)
    kg_ch4_co2e = models.FloatField(null=True, blank=True)
    kg_n2o_co2e = models.FloatField(null=True, blank=True)
    kg_other_co2e = models.FloatField(null=True, blank=True)
    # Scope 2 is reported both ways; kg_co2e holds the location-based figure for Scope 2 records.
    kg_co2e_market = models.FloatField(null=True, blank=True)
    market_basis = models.CharField(max_length=40, blank=True)

    provenance = models.JSONField(default=dict)
    # A companion line (WTT, T&D) has the import run and source row of its main line.
    line_kind = models.CharField(
        max_length=10, choices=LineKind.choices, default=LineKind.MAIN, db_default=LineKind.MAIN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # Database defaults, so a bulk COPY leaves both out and the server stamps them once.
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering: ClassVar[list[str]] = ["date", "id"]
        # Few indexes on purpose: each one costs every row of a million-row COPY. Listing and
        # totals filter a tenant's records by period (date) or import run (the FK's index).
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["date"]),
            # Most records use a library factor: a partial index costs their COPY nothing.
            models.Index(
                fields=["supplier_factor"],
                condition=models.Q(supplier_factor__isnull=False),
                name="activity_supplier_factor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.activity}: {self.kg_co2e:.3f} kg CO2e"


class FactorChangeStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Recalculating"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class FactorChange(models.Model):
    """A change of factor for every record of one activity (activity key and unit dimension), or
    for one record of it: who asked, when and why, and what the recalculation job did. Each
    changed record keeps the old and new factor in its provenance, naming this change."""

    activity_key = models.CharField(max_length=300)
    activity = models.CharField(max_length=500, help_text="The activity text as the user saw it.")
    unit_dimension = models.CharField(max_length=40)
    factor = models.ForeignKey(
        "factors.EmissionFactor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    supplier_factor = models.ForeignKey(
        SupplierFactor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    # Set when only one record changes. Not a foreign key: a record deleted before the job runs
    # leaves the change (and its audit) in place, and the job then changes nothing.
    only_record_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=FactorChangeStatus.choices, default=FactorChangeStatus.QUEUED
    )
    records_changed = models.PositiveIntegerField(default=0)
    kg_co2e_before = models.FloatField(null=True, blank=True)
    kg_co2e_after = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.activity} ({self.get_status_display()})"


class ConsolidationApproach(models.TextChoices):
    """GHG Protocol Corporate Standard, chapter 3: how the organisational boundary is drawn."""

    OPERATIONAL = "operational", "Operational control"
    FINANCIAL = "financial", "Financial control"
    EQUITY = "equity", "Equity share"


class IdentifierScheme(models.TextChoices):
    LEI = "lei", "LEI (ISO 17442)"
    NATIONAL = "national", "National company register"


class OrganisationProfile(models.Model):
    """The tenant's reporting entity (one row per tenant schema): the boundary its inventory
    covers and the country a row without one is taken to be in."""

    legal_name = models.CharField(max_length=300)
    identifier = models.CharField(max_length=60, blank=True)
    identifier_scheme = models.CharField(
        max_length=10, choices=IdentifierScheme.choices, blank=True
    )
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    nace_code = models.CharField(max_length=10, blank=True)
    consolidation_approach = models.CharField(max_length=12, choices=ConsolidationApproach.choices)
    fiscal_year_start_month = models.PositiveSmallIntegerField(default=1)
    fiscal_year_start_day = models.PositiveSmallIntegerField(default=1)
    base_year = models.PositiveSmallIntegerField(null=True, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.legal_name


class ReportingPeriod(models.Model):
    """A reporting period (usually a fiscal year) with the net revenue that intensity ratios use."""

    name = models.CharField(max_length=60)
    start = models.DateField()
    end = models.DateField()
    net_revenue = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)

    class Meta:
        ordering: ClassVar[list[str]] = ["-start"]

    def __str__(self) -> str:
        return f"{self.name} ({self.start} - {self.end})"


class Site(models.Model):
    """A place the organisation consumes energy at; an import's site column names it (or an
    alias), and its country decides the grid a row's electricity comes from."""

    name = models.CharField(max_length=255)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    subregion = models.CharField(
        max_length=10, blank=True, help_text="US state (CA) or eGRID subregion (CAMX)."
    )
    aliases = models.JSONField(default=list, blank=True)
    active_from = models.DateField(null=True, blank=True)
    active_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.name


class InstrumentKind(models.TextChoices):
    """Scope 2 Guidance, Table 6.2: contractual instruments, in the market-based hierarchy."""

    CERTIFICATE = "certificate", "Energy attribute certificates (GOs, RECs, EACs)"
    PPA = "ppa", "Power purchase agreement"
    GREEN_TARIFF = "green_tariff", "Green tariff"
    SUPPLIER_RATE = "supplier_rate", "Supplier-specific emission rate"


class EnergyCarrier(models.TextChoices):
    ELECTRICITY = "electricity", "Electricity"
    HEAT = "heat", "Heat, steam or cooling"


class ContractualInstrument(models.Model):
    """A contract that conveys emission-rate claims for a site's electricity (market-based only;
    a contract never changes the location-based figure). Blank MWh covers all of the site's
    consumption in the period."""

    kind = models.CharField(max_length=16, choices=InstrumentKind.choices)
    carrier = models.CharField(
        max_length=12, choices=EnergyCarrier.choices, default=EnergyCarrier.ELECTRICITY
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="instruments")
    supplier = models.CharField(max_length=200)
    start = models.DateField()
    end = models.DateField()
    mwh_covered = models.FloatField(null=True, blank=True)
    kg_co2e_per_kwh = models.FloatField(help_text="Emission rate, kg CO2e per kWh.")
    certificate_ids = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["site__name", "start"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.supplier} ({self.start} - {self.end})"


class UncertaintyStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Being computed"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class UncertaintyRun(models.Model):
    """One Monte Carlo of the tenant's inventory, requested when its records change.

    At most one run waits at a time (a partial unique constraint): changes while one waits
    coalesce into it; a change while one runs queues the next.
    """

    status = models.CharField(
        max_length=10, choices=UncertaintyStatus.choices, default=UncertaintyStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(default=0)
    iterations = models.PositiveIntegerField(default=0)
    seed = models.BigIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    cells = models.PositiveIntegerField(default=0)
    # When the iterations are shared between workers: how many chunks, and the inputs every chunk
    # reads (cells and factor distributions as Parquet, frozen when the run started).
    chunks_total = models.PositiveIntegerField(default=0)
    inputs = models.BinaryField(null=True, blank=True, editable=False)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="pending"),
                name="uncertainty_one_pending_run",
            )
        ]

    def __str__(self) -> str:
        return f"Uncertainty run {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (UncertaintyStatus.PENDING, UncertaintyStatus.RUNNING)


class UncertaintyChunk(models.Model):
    """The samples (groups x iterations, float64) one worker computed for a shared run."""

    run = models.ForeignKey(UncertaintyRun, on_delete=models.CASCADE, related_name="chunks")
    period = models.PositiveSmallIntegerField()
    chunk = models.PositiveIntegerField()
    samples = models.BinaryField()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["run", "period", "chunk"], name="uncertainty_chunk_run_period_chunk"
            )
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} period {self.period} chunk {self.chunk}"


class UncertaintyResult(models.Model):
    """A run's result for one group (total, scope_1, scope_2, scope_3, scope_3_cat_NN) of one
    period ('' for the whole inventory, else the calendar year), in kg CO2e (location-based)."""

    run = models.ForeignKey(UncertaintyRun, on_delete=models.CASCADE, related_name="results")
    period = models.CharField(max_length=10, blank=True)
    group = models.CharField(max_length=20)
    deterministic = models.FloatField()
    mean = models.FloatField()
    median = models.FloatField()
    p2_5 = models.FloatField()
    p97_5 = models.FloatField()
    sd = models.FloatField()

    class Meta:
        ordering: ClassVar[list[str]] = ["period", "group"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["run", "period", "group"], name="uncertainty_result_run_period_group"
            )
        ]

    def __str__(self) -> str:
        return f"{self.group} {self.period}: {self.p2_5:.0f}-{self.p97_5:.0f} kg"
