"""Schemathesis against the running API's own `/openapi.json` (issue 13): requests generated
from the schema, valid and invalid, to every route, with a key. No answer may be a 5xx, and
every answer's status, content type and body must be what the schema says.

Bounded so it stays short in CI: `EXAMPLES` per operation and generation mode (valid and
invalid data), no shrinking, one uvicorn server. Failures of every operation are collected,
so one run shows them all.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.support.api_server import serve_app

A = {"Authorization": "Bearer sk_a"}
EXAMPLES = 30
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


# A resumable upload's PATCH carries raw bytes, like any binary body.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("schemathesis")
    env = {
        "STROBE_DATA_DIR": str(data),
        "STROBE_API_KEYS": "sk_a:prj_a,sk_b:prj_b",
        "STROBE_FETCH_TIMEOUT": "1",
        "STROBE_MAX_UPLOAD_BYTES": str(1 << 20),
    }
    config = Settings.from_env(env).with_generated_secrets()
    app = create_app(config, open_store(config.database_url), open_storage(config.storage_url))
    with serve_app(app) as base:
        yield base


def test_the_schema_names_every_error_and_every_upload_body(api: str) -> None:
    document = httpx.get(f"{api}/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"400", "413", "422"} | (
                set() if path in ("/health", "/metrics") else {"401", "429"}
            )
            assert expected <= set(responses), f"{method} {path}: {sorted(responses)}"
            for status in expected:
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
            if "{" in path:
                assert "404" in responses
    upload = document["paths"]["/files"]["post"]["requestBody"]["content"]
    assert set(upload) == {"application/json", "multipart/form-data", "application/octet-stream"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_answer_matches_the_schema_and_none_is_a_5xx(api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=api, headers=A, checks=CHECKS)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # each operation's, all collected
                failures.append(f"{operation.label} ({mode.value}): {_summary(exc)}")
    assert not failures, "\n\n".join(failures)


def _summary(exc: BaseException) -> str:
    """The failure's kinds and the curl line that reproduces it."""
    text = str(exc)
    for sub in getattr(exc, "exceptions", ()):
        text += f"\n  {type(sub).__name__}: {str(sub).splitlines()[0] if str(sub) else ''}"
    notes = getattr(exc, "__notes__", [])
    return text + "".join(f"\n  {note}" for note in notes if "curl" in note)
