"""Create the demo tenant (with its organisation, two sites and a sample inventory imported
through the wizard's pipeline) and an operator on first start; print their logins every start."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from accounts.models import User
from billing.ledger import credits_trial_grant
from factortrace.context import public_url, tenant_url
from tenants.demo import DEMO_FILE_NAME, SeedResult, demo_workspace_seed
from tenants.models import Domain, Tenant
from tenants.services import tenant_create

DEMO_SLUG = "demo"
DEMO_OWNER = "owner@demo.example"
OPERATOR = "operator@factortrace.example"


class Command(BaseCommand):
    help = "Create the demo tenant and an operator account if missing, and print their logins."

    def handle(self, *args: Any, **options: Any) -> None:
        logins_file = Path(settings.BASE_DIR) / ".local" / "demo-logins.json"
        logins: dict[str, str] = json.loads(logins_file.read_text()) if logins_file.exists() else {}

        Domain.objects.get_or_create(
            domain=settings.BASE_DOMAIN,
            defaults={"tenant": self._public_tenant(), "is_primary": True},
        )
        if not Tenant.objects.filter(slug=DEMO_SLUG).exists():
            logins["demo"] = secrets.token_urlsafe(12)
            tenant_create(
                company_name="Demo Components GmbH",
                slug=DEMO_SLUG,
                owner_name="Demo Owner",
                owner_email=DEMO_OWNER,
                owner_password=logins["demo"],
            )
        demo = Tenant.objects.get(slug=DEMO_SLUG)
        credits_trial_grant(tenant_id=demo.id)  # a demo made before credits existed gets it too
        with schema_context(demo.schema_name):
            seeded = demo_workspace_seed(owner_email=DEMO_OWNER)
        with schema_context("public"):
            if not User.objects.filter(email=OPERATOR).exists():
                logins["operator"] = secrets.token_urlsafe(12)
                User.objects.create_superuser(OPERATOR, logins["operator"], full_name="Operator")
        logins_file.parent.mkdir(exist_ok=True)
        logins_file.write_text(json.dumps(logins))
        logins_file.chmod(0o600)

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("FactorTrace is starting:"))
        self.stdout.write(f"  Public site      {public_url('')}")
        self.stdout.write(f"  Demo workspace   {tenant_url(DEMO_SLUG)}")
        self.stdout.write(
            f"    sign in as     {DEMO_OWNER} / {logins.get('demo', '(set before; reset it in the admin)')}"
        )
        self.stdout.write(f"    sample data    {self._seed_line(seeded)}")
        self.stdout.write(f"  Operator admin   {public_url('admin/')}")
        self.stdout.write(
            f"    sign in as     {OPERATOR} / {logins.get('operator', '(set before)')}"
        )
        self.stdout.write("")

    def _seed_line(self, seeded: SeedResult) -> str:
        if seeded.message:
            return f"not imported: {seeded.message}"
        verb = "imported" if seeded.created else "already there"
        return f"{DEMO_FILE_NAME} {verb} (import {seeded.run_id}, {seeded.status})"

    def _public_tenant(self) -> Tenant:
        tenant = Tenant.objects.filter(schema_name="public").first()
        if tenant is None:
            tenant = Tenant(schema_name="public", name="FactorTrace", slug="public")
            tenant.save()
        return tenant
