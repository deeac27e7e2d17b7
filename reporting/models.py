"""A generated report: immutable once done. It pins the dataset versions and a fingerprint of the
records it used, keeps its renderings and Arelle's verdict; regenerating makes a new version."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Being generated"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Verdict(models.TextChoices):
    UNCHECKED = "unchecked", "Not validated"
    VALID = "valid", "Valid"
    INVALID = "invalid", "Invalid"


class Report(models.Model):
    regime = models.CharField(max_length=20)
    # The period as it was when the report was asked for: the report stays readable (and its
    # period deletable in Settings) after the period is removed.
    period = models.ForeignKey(
        "emissions.ReportingPeriod",
        null=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    period_name = models.CharField(max_length=60)
    period_start = models.DateField()
    period_end = models.DateField()
    version = models.PositiveIntegerField(default=1)
    formats = models.JSONField(default=list)
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    verdict = models.CharField(max_length=10, choices=Verdict.choices, default=Verdict.UNCHECKED)
    validation = models.JSONField(
        default=dict, help_text="Errors and warnings the validator found."
    )
    datasets = models.JSONField(default=list, help_text="Factor dataset versions the records used.")
    fingerprint = models.CharField(max_length=64, blank=True)
    # What the restatement view compares: the period's kg CO2e by scope (Scope 2 both ways) and
    # Scope 3 category as the report read them, when (``as_of``), and which records it read
    # (their ids, packed by reporting.restatement.pack_ids; kept apart so lists can defer them).
    inventory = models.JSONField(
        default=dict, blank=True, help_text="The inventory figures the report was built from."
    )
    record_ids = models.BinaryField(null=True, blank=True, editable=False)
    facts = models.JSONField(default=list, help_text="The datapoints the renderings tag.")
    xhtml = models.BinaryField(null=True, blank=True, editable=False)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    # EFRAG's VSME Digital Template filled in (xlsx), for VSME reports asked with "template".
    template = models.BinaryField(null=True, blank=True, editable=False)
    # Arelle's iXBRL viewer page for the iXBRL (HTML, gzip-compressed: it embeds the taxonomy's
    # labels and relationships, megabytes for ESRS); its script is served from our static files.
    viewer = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]

    def __str__(self) -> str:
        return f"{self.regime} {self.period_id} v{self.version} ({self.status})"

    @property
    def stem(self) -> str:
        """The file name of its renderings, without extension."""
        from django.utils.text import slugify

        return slugify(f"{self.regime}-{self.period_name}-v{self.version}")

    @property
    def is_final(self) -> bool:
        """Downloadable as final: generated and, where validated, valid."""
        return self.status == ReportStatus.DONE and self.verdict != Verdict.INVALID
