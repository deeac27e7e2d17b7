"""Tenants (customer companies), each in its own PostgreSQL schema, and the host names that reach them."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    name: models.CharField[str, str] = models.CharField(max_length=200)
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
