"""Reads of the organisation's profile and sites, for the Settings page and for imports (which
site a file's site name means, and the country a row without one is in)."""

from __future__ import annotations

from django.db.models import QuerySet

from emissions.models import ContractualInstrument, OrganisationProfile, ReportingPeriod, Site


def organisation_profile() -> OrganisationProfile | None:
    return OrganisationProfile.objects.first()


def organisation_country() -> str | None:
    profile = organisation_profile()
    return profile.country if profile else None


def reporting_periods() -> QuerySet[ReportingPeriod]:
    return ReportingPeriod.objects.all()


def sites() -> QuerySet[Site]:
    return Site.objects.all()


def site_names() -> dict[str, Site]:
    """Every site by its name and each alias, case- and space-insensitive."""
    out: dict[str, Site] = {}
    for site in Site.objects.all():
        for name in [site.name, *site.aliases]:
            out[site_key(name)] = site
    return out


def site_key(name: object) -> str:
    return " ".join(str(name).casefold().split())


def site_record_count(site: Site) -> int:
    """How many activity records carry one of the site's names (as records belong to a site)."""
    from emissions.models import ActivityRecord

    names = {site_key(n) for n in [site.name, *site.aliases]}
    texts = [
        text
        for text in ActivityRecord.objects.exclude(site="")
        .values_list("site", flat=True)
        .distinct()
        if site_key(text) in names
    ]
    return ActivityRecord.objects.filter(site__in=texts).count() if texts else 0


def contractual_instruments() -> QuerySet[ContractualInstrument]:
    return ContractualInstrument.objects.select_related("site")
