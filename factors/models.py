"""The shared factor library (public schema): versioned datasets and their emission factors."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class Scope(models.TextChoices):
    SCOPE_1 = "1", "Scope 1"
    SCOPE_2 = "2", "Scope 2"
    SCOPE_3 = "3", "Scope 3"
    OUTSIDE = "outside", "Outside of scopes"


class Basis(models.TextChoices):
    ACTIVITY = "activity", "Activity-based"
    SPEND = "spend", "Spend-based"
    LOCATION = "location", "Location-based"
    MARKET = "market", "Market-based"
    RESIDUAL_MIX = "residual_mix", "Residual mix (market-based)"


class CvBasis(models.TextChoices):
    NET = "net", "Net CV"
    GROSS = "gross", "Gross CV"


class FactorDataset(models.Model):
    """One version of a published dataset, as ingested: provenance, file hash, counts and report.

    A dataset key (``defra_2024``) gets a new version whenever its files or mapping change; older
    versions stay so a report can pin the one it used. Re-ingesting identical files and mapping is
    a no-op.
    """

    key = models.CharField(max_length=64)
    family = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=True)
    title = models.CharField(max_length=255)
    publisher = models.CharField(max_length=255)
    edition = models.CharField(max_length=64)
    publisher_version = models.CharField(max_length=128, blank=True)
    source_url = models.URLField(max_length=500)
    licence = models.CharField(max_length=255)
    attribution = models.TextField(blank=True)
    file_sha256 = models.CharField(max_length=64)
    mapping_sha256 = models.CharField(max_length=64)
    ingested_at = models.DateTimeField()
    rows_read = models.PositiveIntegerField(default=0)
    factor_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    flagged_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar[list[str]] = ["key", "-version"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["key", "version"], name="factors_dataset_key_version"),
            models.UniqueConstraint(
                fields=["key", "file_sha256", "mapping_sha256"], name="factors_dataset_key_content"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["key", "is_current"], name="factors_ds_key_current")
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class EmissionFactor(models.Model):
    """One factor: kg CO2e per `unit` of activity (or of money), with per-gas values where published."""

    dataset = models.ForeignKey(FactorDataset, on_delete=models.CASCADE, related_name="factors")
    publisher_id = models.CharField(max_length=255)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    scope3_category = models.PositiveSmallIntegerField(null=True, blank=True)
    category = models.TextField(blank=True)
    name = models.TextField()
    region = models.CharField(max_length=32)
    unit = models.CharField(max_length=64)
    unit_label = models.CharField(max_length=128, blank=True)
    # The engine's name for the unit's dimension ('volume', 'energy', 'money'...): browser facet.
    unit_dimension = models.CharField(max_length=64)
    kg_co2e = models.FloatField()
    co2 = models.FloatField(null=True, blank=True)
    ch4 = models.FloatField(null=True, blank=True)
    n2o = models.FloatField(null=True, blank=True)
    other_ghg = models.FloatField(null=True, blank=True)
    gwp_set = models.CharField(max_length=16)
    basis = models.CharField(max_length=16, choices=Basis.choices)
    kind = models.CharField(max_length=32)
    currency = models.CharField(max_length=3, blank=True)
    price_year = models.PositiveSmallIntegerField(null=True, blank=True)
    cv_basis = models.CharField(max_length=8, choices=CvBasis.choices, blank=True)
    uncertainty_distribution = models.CharField(max_length=16, blank=True)
    uncertainty_sd = models.FloatField(null=True, blank=True)
    uncertainty_low = models.FloatField(null=True, blank=True)
    uncertainty_high = models.FloatField(null=True, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    source_table = models.CharField(max_length=200, blank=True)
    source_row = models.PositiveIntegerField()
    classifications = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    flags = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    flag_reason = models.TextField(blank=True)
    search_text = models.TextField()

    class Meta:
        ordering: ClassVar[list[str]] = ["dataset_id", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["dataset", "publisher_id"], name="factors_factor_dataset_publisher_id"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            GinIndex(fields=["classifications"], name="factors_ef_classifications"),
            models.Index(fields=["dataset", "region"], name="factors_ef_dataset_region"),
            models.Index(fields=["dataset", "scope"], name="factors_ef_dataset_scope"),
            models.Index(fields=["region", "scope"], name="factors_ef_region_scope"),
            models.Index(fields=["unit_dimension"], name="factors_ef_unit_dimension"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.region}, per {self.unit})"
