"""Property-based checks of the API against its own OpenAPI document (schemathesis, in-process).

Bounded: a few valid and a few invalid examples per operation, through the ASGI transport (no
sockets), against the session's real MLflow server. No answer may be a 5xx or violate the
documented status codes, content types, headers or response schemas.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXPECTED_OPERATIONS = {
    "POST /v1/reviews",
    "GET /v1/reviews",
    "GET /v1/reviews/{review_id}",
    "POST /v1/gate",
    "POST /v1/promote",
    "POST /v1/overrides",
    "GET /v1/overrides",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "POST /v1/mlflow/webhook",
    "GET /.well-known/promogate-signing-key",
    "POST /v1/overrides/{override_id}/revoke",
}


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"]
)
def test_the_api_honours_its_openapi_document(shared_api: Any, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", shared_api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == EXPECTED_OPERATIONS
    headers = shared_api.headers("admin")
    failures: list[str] = []
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=mode)

        @given(case=strategy)
        @settings(
            max_examples=5,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # An operation without parameters (/healthz) has no invalid request to generate.
            assert mode is GenerationMode.NEGATIVE
            assert not operation.path.startswith("/v1/")
        except AssertionError as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
