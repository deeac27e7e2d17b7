"""Writes on tenants: sign-up creates the tenant, its schema, its domain and its owner, or nothing."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from accounts.models import Role, User
from billing.ledger import credits_trial_grant
from tenants.models import Domain, Tenant
from tenants.rules import schema_name_for

logger = logging.getLogger(__name__)


class SubdomainTakenError(Exception):
    """Another tenant holds (or has just taken) this subdomain."""


def tenant_domain(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def tenant_create(
    *, company_name: str, slug: str, owner_name: str, owner_email: str, owner_password: str
) -> Tenant:
    """Create a tenant with its schema, domain and owner in one transaction.

    The schema's DDL is transactional in PostgreSQL, so a failure anywhere leaves no tenant row,
    no domain and no schema. Two sign-ups racing for one subdomain meet on the unique index: the
    second raises SubdomainTakenError.
    """
    schema_name = schema_name_for(slug)
    try:
        with transaction.atomic():
            if Tenant.objects.filter(slug=slug).exists():
                raise SubdomainTakenError(slug)
            tenant = Tenant(name=company_name, slug=slug, schema_name=schema_name)
            tenant.save()
            Domain.objects.create(domain=tenant_domain(slug), tenant=tenant, is_primary=True)
            credits_trial_grant(tenant_id=tenant.id)
            with schema_context(schema_name):
                User.objects.create_user(
                    owner_email, owner_password, full_name=owner_name, role=Role.OWNER
                )
    except IntegrityError as exc:
        raise SubdomainTakenError(slug) from exc
    logger.info("tenant created", extra={"tenant": schema_name})
    return tenant


def tenant_set_language(*, tenant: Tenant, language: str) -> Tenant:
    """Set the workspace's language (and so its number and date format)."""
    from tenants.models import LANGUAGES

    if language not in dict(LANGUAGES):
        raise ValueError(f"unknown language {language!r}")
    with transaction.atomic():
        Tenant.objects.filter(id=tenant.id).update(language=language)
        tenant.language = language
    return tenant
