"""Writes of the Settings page: the organisation profile, reporting periods, sites and Scope 2
contractual instruments. The forms have validated the values."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from emissions.models import ContractualInstrument, OrganisationProfile, ReportingPeriod, Site
from emissions.services_scope2 import scope2_market_reallocate


@transaction.atomic
def organisation_profile_save(**values: Any) -> OrganisationProfile:
    """Create or update the tenant's one profile."""
    profile = OrganisationProfile.objects.select_for_update().first() or OrganisationProfile()
    for name, value in values.items():
        setattr(profile, name, value)
    profile.save()
    return profile


@transaction.atomic
def reporting_period_create(**values: Any) -> ReportingPeriod:
    return ReportingPeriod.objects.create(**values)


@transaction.atomic
def reporting_period_delete(*, period: ReportingPeriod) -> None:
    period.delete()


@transaction.atomic
def site_create(**values: Any) -> Site:
    return Site.objects.create(**values)


@transaction.atomic
def site_update(*, site: Site, **values: Any) -> Site:
    """Change a site. Records belong to a site by its name or an alias: when those change, the
    contracts' MWh are allocated again over the records the site has now, and the records that
    left it (a former name) are recomputed without its contracts."""
    # Its names before the change (a ModelForm has already set the new values on the instance).
    before = Site.objects.filter(id=site.id).values_list("name", "aliases").first()
    for name, value in values.items():
        setattr(site, name, value)
    site.save(update_fields=list(values))
    former = [before[0], *before[1]] if before else []
    if {n.casefold() for n in former} != {n.casefold() for n in [site.name, *site.aliases]}:
        scope2_market_reallocate(site_ids=[site.id], site_texts=former)
    return site


@transaction.atomic
def contractual_instrument_create(**values: Any) -> ContractualInstrument:
    """Add a contract; the market-based figures of its site's records follow at once."""
    instrument = ContractualInstrument.objects.create(**values)
    scope2_market_reallocate(site_ids=[instrument.site_id])
    return instrument


@transaction.atomic
def contractual_instrument_update(
    *, instrument: ContractualInstrument, **values: Any
) -> ContractualInstrument:
    """Change a contract (the form has checked it overlaps no other); the records of its site,
    and of its former site, are allocated again."""
    # Its site before the change (a ModelForm has already set the new values on the instance).
    sites = set(
        ContractualInstrument.objects.filter(id=instrument.id).values_list("site_id", flat=True)
    )
    for name, value in values.items():
        setattr(instrument, name, value)
    instrument.save(update_fields=list(values))
    scope2_market_reallocate(site_ids=sites | {instrument.site_id})
    return instrument


@transaction.atomic
def contractual_instrument_delete(*, instrument: ContractualInstrument) -> None:
    """Remove a contract; the records it covered fall to the next step of the hierarchy."""
    site_id = instrument.site_id
    instrument.delete()
    scope2_market_reallocate(site_ids=[site_id])


@transaction.atomic
def sites_add_names(
    *, new_sites: list[dict[str, Any]], aliases: list[tuple[Site, str]]
) -> list[Site]:
    """Names an import's site column uses, added at once: new sites, and aliases of existing
    sites. All or nothing."""
    created = [Site.objects.create(**values) for values in new_sites]
    named: set[int] = set()
    for site, name in aliases:
        locked = Site.objects.select_for_update().get(id=site.id)
        if name.casefold() not in {a.casefold() for a in locked.aliases}:
            locked.aliases = [*locked.aliases, name]
            locked.save(update_fields=["aliases"])
            named.add(locked.id)
    # Records of earlier imports that carry a new alias belong to its site now (and a new site's
    # name may be one they carry): its contracts cover them too.
    scope2_market_reallocate(site_ids=named | {s.id for s in created})
    return created
