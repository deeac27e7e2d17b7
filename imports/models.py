"""Uploads and their way to activity records: import runs, mapping templates, remembered factor choices."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class ImportStatus(models.TextChoices):
    # Stored; its parse job has not finished yet (the "reading your file" page polls it).
    READING = "reading", "Reading"
    # The parse job refused the file (limits, encoding, not a spreadsheet): nothing was kept but
    # the reason, shown on the reading page.
    UNREADABLE = "unreadable", "Could not be read"
    UPLOADED = "uploaded", "Uploaded"
    MAPPED = "mapped", "Mapped"
    VALIDATED = "validated", "Validated"
    COMMITTING = "committing", "Committing"
    COMMITTED = "committed", "Committed"
    # The valid rows are in the inventory; the invalid ones wait in the run to be fixed and
    # imported later into the same run.
    PARTIAL = "partial", "Partly imported"
    FAILED = "failed", "Failed"
    UNDONE = "undone", "Undone"


# Statuses in which the wizard still changes the run (rows checked and fixed; a partly imported
# run's remaining rows too); later ones are read-only.
EDITABLE = frozenset(
    {
        ImportStatus.UPLOADED,
        ImportStatus.MAPPED,
        ImportStatus.VALIDATED,
        ImportStatus.FAILED,
        ImportStatus.PARTIAL,
    }
)
# Statuses with checked rows: the check, factor and import steps are open.
CHECKED = frozenset({ImportStatus.VALIDATED, ImportStatus.FAILED, ImportStatus.PARTIAL})
# Runs a commit can be claimed from: checked, or partly imported with rows fixed since.
COMMITTABLE = (ImportStatus.VALIDATED, ImportStatus.PARTIAL)
# Runs with records in the inventory.
WITH_RECORDS = frozenset({ImportStatus.COMMITTED, ImportStatus.PARTIAL})
FINISHED = frozenset({ImportStatus.COMMITTED, ImportStatus.UNDONE})
# Statuses before the wizard opens: the file is being read, or its reading failed.
READ_PENDING = frozenset({ImportStatus.READING, ImportStatus.UNREADABLE})


class MappingTemplate(models.Model):
    """A named column mapping, re-applied when a file with the same header set comes back."""

    name = models.CharField(max_length=120, unique=True)
    header_signature = models.CharField(max_length=64, db_index=True)
    mapping = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportRun(models.Model):
    """One uploaded file on its way through mapping, validation and commit; the wizard's saved state."""

    status = models.CharField(
        max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)

    # What reading the file found (encoding, delimiter, sheets, header row, skipped rows...).
    detected = models.JSONField(default=dict)
    sheet = models.CharField(max_length=200, blank=True)
    mapping = models.JSONField(default=dict)
    template = models.ForeignKey(
        MappingTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    # Cells fixed in the wizard: {"<row>:<field>": "<new raw value>"}.
    fixes = models.JSONField(default=dict)

    rows_total = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    records_created = models.PositiveIntegerField(default=0)
    kg_co2e = models.FloatField(null=True, blank=True)

    # Rows found already in the inventory (same date, activity, quantity, unit and site) at the
    # last check.
    rows_duplicate = models.PositiveIntegerField(default=0)

    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    # The commit job's lease: set when the commit is claimed, renewed by the job's heartbeat. A
    # COMMITTING run whose lease ran out has lost its job (worker killed); the sweeper fails it.
    lease_until = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        """The wizard may still change it: rows checked and fixed, factors chosen."""
        return self.status in EDITABLE

    @property
    def is_mapping_editable(self) -> bool:
        """Its sheet and columns may change: a partly imported run's records were read with them."""
        return self.is_editable and self.status != ImportStatus.PARTIAL

    @property
    def is_checked(self) -> bool:
        """Its rows were checked: the check, factor and import steps are open."""
        return self.status in CHECKED

    @property
    def is_committable(self) -> bool:
        """A commit can be claimed from it."""
        return self.status in COMMITTABLE

    @property
    def is_committing(self) -> bool:
        return self.status == ImportStatus.COMMITTING

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def is_read_pending(self) -> bool:
        """The file is being read, or its reading failed: the wizard is not open yet."""
        return self.status in READ_PENDING

    @property
    def has_records(self) -> bool:
        """Its records are in the inventory (committed, or partly imported)."""
        return self.status in WITH_RECORDS

    @property
    def has_failed(self) -> bool:
        """Its last commit failed (a partly imported run keeps the reason in ``error``)."""
        return self.status == ImportStatus.FAILED or (
            self.status == ImportStatus.PARTIAL and bool(self.error)
        )


class FactorChoice(models.Model):
    """The factor a tenant chose for an activity text, remembered for the next import."""

    activity_key = models.CharField(max_length=300, help_text="Normalised activity text.")
    unit_dimension = models.CharField(max_length=40, blank=True)
    factor = models.ForeignKey(
        "factors.EmissionFactor", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    supplier_factor = models.ForeignKey(
        "emissions.SupplierFactor",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["activity_key", "unit_dimension"], name="one_choice_per_activity"
            ),
        ]

    def __str__(self) -> str:
        return self.activity_key


class RowError(models.Model):
    """A structured validation error of one cell, as the user sees it in their spreadsheet."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=200)
    field = models.CharField(max_length=40)
    value = models.TextField(blank=True)
    message = models.TextField()
    suggestion = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["row", "id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["run", "row"])]

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"
