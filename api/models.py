"""API tokens and the imports made through the API, in each tenant's own schema.

A token lives in the schema of the tenant it was made for, so presented on another tenant's host it
is simply not found there: the same 401 as a wrong token. Only its SHA-256 is stored (with the schema
name mixed in, so a row copied into another schema matches nothing); the token itself is shown once.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    name = models.CharField(max_length=120)
    scope = models.CharField(max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    # The token's public part ("ft_" + 10 characters): how it is looked up and shown in Settings.
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.WRITE


class ApiImport(models.Model):
    """An import posted through the API: its run, the answer it got (replayed for the same
    Idempotency-Key) and the factor chosen for each distinct activity at validation."""

    run = models.OneToOneField(
        "imports.ImportRun", null=True, on_delete=models.CASCADE, related_name="api_import"
    )
    token = models.ForeignKey(ApiToken, null=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_sha256 = models.CharField(max_length=64, blank=True)
    response = models.JSONField(default=dict)
    choices = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="api_import_one_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"API import {self.id} (run {self.run_id})"


class ApiReport(models.Model):
    """A report requested through the API with an Idempotency-Key: the answer it got, replayed
    for the same key (so a retried request consumes no second credit)."""

    report = models.OneToOneField(
        "reporting.Report", null=True, on_delete=models.SET_NULL, related_name="api_request"
    )
    token = models.ForeignKey(ApiToken, null=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=255, unique=True)
    request_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"API report request {self.idempotency_key} (report {self.report_id})"
