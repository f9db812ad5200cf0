"""A bounded schemathesis run against the served OpenAPI schema: generated requests, fitting the
schema and not, never get a 5xx, every answer matches what the schema documents, and requests
that break the schema are refused with a 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402
from support.serving import running  # noqa: E402

from pagefix.serving import create_app  # noqa: E402

EXAMPLES = 30  # per operation and mode: a few seconds in all


@pytest.fixture(scope="module")
def api_schema(pipeline):  # type: ignore[no-untyped-def]
    """The schema as served by the real pipeline behind the default settings (no allow-list)."""
    with running(create_app(pipeline)) as url:
        yield schemathesis.openapi.from_url(url + "/openapi.json")


def operations(api_schema) -> Iterator:  # type: ignore[no-untyped-def]
    for result in api_schema.get_all_operations():
        yield result.ok()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_answers_match_the_schema(api_schema, mode) -> None:  # type: ignore[no-untyped-def]
    seen = []
    calls = []
    for operation in operations(api_schema):
        name = f"{operation.method.upper()} {operation.path}"
        if mode is GenerationMode.NEGATIVE and name != "POST /document-preprocessing":
            continue  # nothing to break in a request without parameters
        seen.append(name)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def exercise(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(timeout=60)
            calls.append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"
            # Every string fits the schema's `file`, but few are an image: a schema-valid 422 is right here.
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        exercise()
    assert "POST /document-preprocessing" in seen
    assert len(calls) >= EXAMPLES // 2, calls  # the run did send requests
