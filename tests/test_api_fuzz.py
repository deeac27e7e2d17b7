"""schemathesis against the API's own OpenAPI document: generated requests (valid and invalid) to
every operation, on acme's host with a read-and-write token, in-process through the real
middleware stack. No answer may be a 5xx, nor break the document (status, content type, headers,
schema). Bounded: a fixed seed and a few examples per operation and mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings

from tests.api_helpers import api_client, make_token

EXAMPLES_PER_MODE = 12
SEED = 20261207


@contextmanager
def keeping_the_connection() -> Iterator[None]:
    """Requests through Django's WSGI handler keep the test's database connection (and its
    rolled-back transaction), as Django's test client does (which reconnects these signals after
    each of its own requests: make none inside the block)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _operations() -> list[Any]:
    from api.v1 import api

    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return [
        pytest.param(path, method, id=f"{method.upper()} {path}")
        for path, item in schema["paths"].items()
        for method in item
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "method"), _operations())
def test_the_api_holds_its_document_under_fuzzing(
    path: str, method: str, tenants: dict[str, object], library: None
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    document = api_client("acme").get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operation = schema[path][method.upper()]
    secret = make_token("acme", "write")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    strategy = operation.as_strategy(schemathesis.GenerationMode.POSITIVE) | operation.as_strategy(
        schemathesis.GenerationMode.NEGATIVE
    )

    wsgi_app = WSGIHandler()
    statuses: list[int] = []

    @seed(SEED)
    @settings(
        max_examples=2 * EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        response = case.call(
            app=wsgi_app,
            base_url="http://acme.localhost",
            headers={"Authorization": f"Bearer {secret}"},
        )
        case.validate_response(response, checks=checks)
        statuses.append(response.status_code)

    with (
        override_settings(API_RATE_LIMIT_PER_MINUTE=100_000, JOBS_IN_PROCESS=True),
        keeping_the_connection(),
    ):
        fuzz()
    # The token was accepted: the requests reached the operation itself.
    assert len(statuses) >= EXAMPLES_PER_MODE
    assert set(statuses) - {401, 403, 429}, statuses
    print(method.upper(), path, sorted(statuses))
