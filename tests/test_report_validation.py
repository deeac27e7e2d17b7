"""Arelle's warm validation (a child forked from a server that keeps the ESRS DTS loaded) gives the
verdict of a cold run (everything loaded for one report): the same errors, warnings, completeness
findings and facts, for a valid report and for an invalid one, which both catch; and for the
inline XBRL report package report generation validates, the same viewer page too."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from django_tenants.utils import schema_context

from reporting import services, validate
from reporting.regimes import regime
from reporting.render import render_package, render_xhtml
from reporting.taxonomy import esrs_taxonomy
from reporting.validate import Verdict, validate_ixbrl, validate_ixbrl_cold
from tests.report_helpers import ESRS_DIR, seed_tenant


def _xhtml(settings: Any) -> bytes:
    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    period = seed_tenant()
    with schema_context("acme"):
        data = services.report_input(period)
        chosen = regime("esrs_e1")
        facts, notes = chosen.datapoints(data)
        return render_xhtml(chosen, data, facts, notes)


def _invalid(xhtml: bytes) -> bytes:
    """A period that ends before it starts, and a number that is no number."""
    broken = xhtml.replace(b"<xbrli:endDate>2024-12-31<", b"<xbrli:endDate>2023-12-31<", 1)
    start = broken.index(b'name="esrs:GrossScope1GreenhouseGasEmissions"')
    end = broken.index(b"</ix:nonFraction>", start)
    value_at = broken.rindex(b">", start, end) + 1
    return broken[:value_at] + b"twelve" + broken[end:]


def _messages(messages: list[str]) -> Counter[str]:
    # A message may name a fact by Arelle's internal object number ("modelInlineFact[__60]"),
    # which counts the objects loaded before it: the warm child's DTS was loaded first. Messages
    # are kept to 500 characters, so the numbers' lengths move the cut: compare 450.
    return Counter(re.sub(r"\[__\d+\]", "[__n]", m)[:450] for m in messages)


def _same(warm: Verdict, cold: Verdict) -> None:
    assert _messages(warm.errors) == _messages(cold.errors)
    assert _messages(warm.warnings) == _messages(cold.warnings)
    assert _messages(warm.missing) == _messages(cold.missing)
    assert sorted(map(repr, warm.facts)) == sorted(map(repr, cold.facts))


@pytest.mark.slow
def test_warm_validation_gives_the_cold_verdict(
    tenants: dict[str, object], db: None, settings: Any
) -> None:
    settings.ARELLE_WARM_SERVER = True
    xhtml = _xhtml(settings)
    packages = esrs_taxonomy().packages
    valid_cold = validate_ixbrl_cold(xhtml, packages)
    assert valid_cold.valid, valid_cold.errors[:5]
    assert valid_cold.missing  # EFRAG's existence assertions ran
    invalid_cold = validate_ixbrl_cold(_invalid(xhtml), packages)
    assert not invalid_cold.valid
    codes = {m.split("]")[0] for m in invalid_cold.errors}
    assert {"[ix11.10.1.1:transformValueError", "[xbrl.4.7.2:periodStartBeforeEnd"} <= codes
    for _round in range(2):  # the second request is served by a fresh child of the same server
        valid_warm = validate_ixbrl(xhtml, packages)
        _same(valid_warm, valid_cold)
        assert valid_warm.valid
        invalid_warm = validate_ixbrl(_invalid(xhtml), packages)
        _same(invalid_warm, invalid_cold)
        assert not invalid_warm.valid


def _package_verdicts(xhtml: bytes, packages: Any, **how: Any) -> Verdict:
    return (validate_ixbrl if how.pop("warm") else validate_ixbrl_cold)(
        render_package(xhtml, "acme-esrs-e1"),
        packages,
        filename="acme-esrs-e1.xbri",
        viewer_script=SCRIPT,
        **how,
    )


SCRIPT = "/static/ixbrlviewer/ixbrlviewer.js"


@pytest.mark.slow
def test_warm_validation_of_a_report_package_gives_the_cold_verdict_and_viewer(
    tenants: dict[str, object], db: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What report_build asks for: the package opened (its checks, then the iXBRL in it), the
    report validated, the viewer page written; warm and cold alike."""
    settings.ARELLE_WARM_SERVER = True
    xhtml = _xhtml(settings)
    packages = esrs_taxonomy().packages
    started: list[object] = []
    cold_run = validate._validate_cold
    monkeypatch.setattr(validate, "_validate_cold", lambda *a: started.append(a) or cold_run(*a))
    for content in (xhtml, _invalid(xhtml)):
        started.clear()
        cold = _package_verdicts(content, packages, warm=False)
        assert len(started) == 1
        warm = _package_verdicts(content, packages, warm=True)
        assert len(started) == 1  # the warm one did not fall back to a cold run
        _same(warm, cold)
        assert cold.viewer is not None
        assert warm.viewer == cold.viewer
        assert f'<script src="{SCRIPT}"'.encode() in warm.viewer
        assert b"application/x.ixbrl-viewer+json" in warm.viewer
    assert cold.errors  # the invalid one
