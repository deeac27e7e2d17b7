"""Tenants (customer companies), each in its own PostgreSQL schema, and the host names that reach them."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

# Languages a workspace is shown in: numbers and dates follow their format (1.234,5 in German).
LANGUAGES: list[tuple[str, str]] = [
    ("en-gb", "English (United Kingdom): 1,234.5 · 31/12/2024"),
    ("en", "English (United States): 1,234.5 · 12/31/2024"),
    ("de", "Deutsch: 1.234,5 · 31.12.2024"),
    ("fr", "Français: 1 234,5 · 31/12/2024"),
    ("es", "Español: 1 234,5 · 31/12/2024"),
    ("it", "Italiano: 1.234,5 · 31/12/2024"),
    ("nl", "Nederlands: 1.234,5 · 31-12-2024"),
]


class Tenant(TenantMixin):
    name: models.CharField[str, str] = models.CharField(max_length=200)
    language: models.CharField[str, str] = models.CharField(
        max_length=10,
        choices=LANGUAGES,
        default="en-gb",
        help_text="Language and number and date format of the workspace.",
    )
    slug: models.SlugField[str, str] = models.SlugField(max_length=63, unique=True)
    created_at: models.DateTimeField[object, object] = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Domain(DomainMixin):
    pass
