"""100,000 rows pushed as one JSON batch read back through the API as the same inventory as the
same rows imported by `manage.py import_activities` (into the other tenant, so the two never meet)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import TestCase, override_settings

from benchmarks.api import FEED_MAPPING, mapping_yaml, monthly_feed
from tests.api_helpers import api_client, make_token

ROWS = 100_000


def _numbers_close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-6)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_numbers_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_numbers_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.slow
def test_a_json_batch_of_100000_rows_reads_back_as_the_cli_import(
    tmp_path: Path, tenants: dict[str, object], library: None
) -> None:
    feed = tmp_path / "feed.csv"
    rows = monthly_feed(feed, ROWS)
    out = StringIO()
    call_command(
        "import_activities",
        "--tenant",
        "globex",
        str(feed),
        "--mapping",
        str(mapping_yaml(tmp_path / "feed.yml")),
        "--allow-partial",  # some rows have units nobody knows (as real feeds do)
        "--json",
        stdout=out,
    )
    cli = json.loads(out.getvalue())
    assert cli["committed"]
    assert cli["rows"] == ROWS
    assert cli["invalid"] > 0

    writer = api_client("acme", make_token("acme", "write"))
    with override_settings(JOBS_IN_PROCESS=True), TestCase.captureOnCommitCallbacks(execute=True):
        response = writer.post(
            "/api/v1/imports?allow_partial=true",
            data=json.dumps({"rows": rows, "mapping": FEED_MAPPING}),
            content_type="application/json",
        )
    assert response.status_code == 202, response.content[:1000]
    detail = writer.get(response.json()["url"]).json()
    assert detail["status"] == "partial"
    assert detail["counts"]["rows"] == ROWS
    assert detail["counts"]["records"] == cli["records"]
    assert detail["counts"]["invalid"] == cli["invalid"]

    ours = writer.get("/api/v1/inventory").json()
    theirs = api_client("globex", make_token("globex", "read")).get("/api/v1/inventory").json()
    assert ours["totals_kg"]["records"] > ROWS * 0.99  # main lines and their WTT / T&D lines
    for part in ("totals_kg", "by_scope", "by_category", "by_month", "by_site", "by_data_quality"):
        assert _numbers_close(ours[part], theirs[part]), part
