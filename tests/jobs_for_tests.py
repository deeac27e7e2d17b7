"""Jobs used by tests/test_jobs.py (jobs must be importable module-level functions)."""

from __future__ import annotations

from django.db import connection

from accounts.models import Role, User

MARKER_DOMAIN = "job-marker.example"


def mark_and_list(*, label: str) -> dict[str, object]:
    """Write one marker user, then return the schema and every marker this schema holds."""
    User.objects.create_user(f"{label}@{MARKER_DOMAIN}", None, full_name=label, role=Role.VIEWER)
    seen = sorted(
        User.objects.filter(email__endswith=MARKER_DOMAIN).values_list("full_name", flat=True)
    )
    return {"schema": connection.schema_name, "seen": seen}


def explode(*, label: str) -> None:
    raise RuntimeError(f"job {label} failed on purpose")
