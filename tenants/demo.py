"""The demo workspace's sample data: a generated supplier file (a German mid-sized metal-parts maker
with a plant in Ulm and one in Brno) imported at bootstrap through the wizard's own services, and
the small sample CSV the upload page offers.

The magnitudes are those of a ~250-person supplier, written as its ERP and fuel-card exports write
them: German headers and number format, mixed German/English descriptions. They are illustrative
activity data, not factors; the emissions come from the factor library when the file is checked.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from dataclasses import dataclass

YEAR = 2024
HEADERS = ["Datum", "Beschreibung", "Menge", "Einheit", "Standort", "Land"]

ULM = ("Werk Ulm", "DE")
BRNO = ("Werk Brno", "CZ")
# Heating demand by month (1 = January): natural gas follows the season.
_HEATING = (1.0, 0.95, 0.8, 0.55, 0.3, 0.15, 0.1, 0.1, 0.25, 0.5, 0.8, 0.95)


@dataclass(frozen=True)
class Line:
    activity: str
    unit: str
    per_month: float
    site: tuple[str, str]
    seasonal: bool = False


LINES = (
    Line("Diesel Fuhrpark (fleet diesel)", "L", 2_400, ULM),
    Line("Erdgas Heizkessel (natural gas boiler)", "kWh", 140_000, ULM, seasonal=True),
    Line("Strom (electricity)", "kWh", 185_000, ULM),
    Line("Strom (electricity)", "kWh", 62_000, BRNO),
    Line("Flight short-haul economy (Dienstreise)", "passenger.km", 9_500, ULM),
    Line("Rail travel national (Bahn)", "passenger.km", 4_200, ULM),
    Line("Road freight HGV diesel (Lkw-Fracht)", "tonne.km", 38_000, BRNO),
    Line("Steel purchased (Stahl)", "t", 85, ULM),
    Line("Aluminium purchased (Aluminium)", "t", 12, BRNO),
    Line("Commercial and industrial waste to landfill (Gewerbeabfall)", "t", 6.5, ULM),
)


def _german(number: float) -> str:
    text = f"{number:,.1f}" if number % 1 else f"{number:,.0f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def supplier_rows(*, year: int = YEAR, months: int = 12) -> list[list[str]]:
    """One row per activity, site and month (dated the month's last day); deterministic, so the
    same file (the same SHA-256) comes out at every start."""
    rows = []
    for month in range(1, months + 1):
        last = calendar.monthrange(year, month)[1]
        # Production varies a little over the year (August holidays, December shutdown).
        load = {8: 0.7, 12: 0.8}.get(month, 1.0 + 0.02 * ((month * 7) % 5 - 2))
        for line in LINES:
            amount = line.per_month * (_HEATING[month - 1] * 1.3 if line.seasonal else load)
            amount = round(amount, 1 if amount < 100 else 0)
            rows.append(
                [
                    f"{last:02d}.{month:02d}.{year}",
                    line.activity,
                    _german(amount),
                    line.unit,
                    line.site[0],
                    line.site[1],
                ]
            )
    return rows


def supplier_file(*, year: int = YEAR, months: int = 12) -> bytes:
    """The supplier file as its export looks: semicolons, German numbers, UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(HEADERS)
    writer.writerows(supplier_rows(year=year, months=months))
    return buffer.getvalue().encode("utf-8")


def sample_file() -> bytes:
    """The small file behind "try it with a sample file": three months of the same supplier."""
    return supplier_file(months=3)


# --------------------------------------------------------------------------------------------
# the demo workspace, seeded through the wizard's services

DEMO_FILE_NAME = "Lieferant_Verbrauch_2024.csv"
DEMO_TEMPLATE = "Demo: ERP consumption export"


@dataclass(frozen=True)
class SeedResult:
    run_id: int | None
    status: str
    created: bool
    message: str = ""


def demo_workspace_seed(*, owner_email: str) -> SeedResult:
    """In the current (demo) schema: the organisation profile, its two sites and the sample
    inventory, imported as a user would (create -> mapping -> check -> factors -> commit job).
    Idempotent: a second call finds the same file's import and changes nothing; an import the
    owner undid stays undone."""
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import User
    from emissions.models import OrganisationProfile, ReportingPeriod, Site
    from emissions.services_org import (
        organisation_profile_save,
        reporting_period_create,
        site_create,
    )
    from imports.errors import ImportInputError
    from imports.models import ImportRun, ImportStatus
    from imports.selectors import run_mapping
    from imports.services import (
        import_run_confirm_factors,
        import_run_create,
        import_run_set_mapping,
        import_run_start_commit,
        import_run_validate,
    )

    if not OrganisationProfile.objects.exists():
        organisation_profile_save(
            legal_name="Demo Components GmbH",
            # A made-up commercial-register number of the demo company (reports name the entity).
            identifier="HRB 700001",
            identifier_scheme="national",
            country="DE",
            nace_code="25.62",  # machining (NACE Rev. 2)
            consolidation_approach="operational",
            base_year=YEAR,
            employees=250,
        )
    if not ReportingPeriod.objects.exists():
        # The demo company's fiscal year, so a report can be generated at once (its revenue, made
        # up like the rest of the demo, gives the intensity per net revenue).
        reporting_period_create(
            name=f"FY{YEAR}",
            start=dt.date(YEAR, 1, 1),
            end=dt.date(YEAR, 12, 31),
            net_revenue=48_000_000,
            currency="EUR",
        )
    for name, country in (ULM, BRNO):
        if not Site.objects.filter(name=name).exists():
            site_create(name=name, country=country, aliases=[name.split()[-1]])

    owner = User.objects.filter(email=owner_email).first()
    content = supplier_file()
    sha = hashlib.sha256(content).hexdigest()
    runs = ImportRun.objects.filter(sha256=sha)
    settled = {
        ImportStatus.COMMITTED,
        ImportStatus.COMMITTING,
        ImportStatus.PARTIAL,
        ImportStatus.UNDONE,
    }
    done = runs.filter(status__in=settled).first()
    if done is not None:
        return SeedResult(done.id, done.status, created=False)
    run = runs.exclude(status__in={ImportStatus.READING, ImportStatus.UNREADABLE}).first()
    created = run is None
    try:
        if run is None:
            run = import_run_create(
                upload=SimpleUploadedFile(DEMO_FILE_NAME, content, content_type="text/csv"),
                user=owner,
            )
        if run.status in {ImportStatus.UPLOADED, ImportStatus.MAPPED}:
            mapping = run_mapping(run)
            if mapping is None:
                raise ImportInputError("The demo file's columns were not recognised.")
            import_run_set_mapping(
                run=run, mapping=mapping, template_name=DEMO_TEMPLATE, user=owner
            )
        import_run_validate(run=run)
        run.refresh_from_db()
        import_run_confirm_factors(run=run)
        import_run_start_commit(run=run, user=owner)
    except ImportInputError as exc:
        status = run.status if run is not None else "none"
        return SeedResult(run.id if run else None, status, created, message=exc.message)
    run.refresh_from_db()
    return SeedResult(run.id, run.status, created)
