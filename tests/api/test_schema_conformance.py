"""The API against its own published schema, over real HTTP: every operation the live
server's /api/v1/schema/ lists is called with generated input, valid and invalid, and every
answer must be a documented status, of a documented content type, with documented headers and
a body that matches the schema. Nothing here names an operation: whatever any app adds to the
schema is walked too.

Path ids are real where the walker knows the resource (tests/routes.py), so valid cases reach
the 200 bodies instead of stopping at 404.

It runs in one CI pass only (SQLite): the PostgreSQL pass would call the same code the same
way and double the suite's longest test.
"""

import itertools
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import MerchantFactory, api_secret_for
from tests.routes import KWARG_RESOURCES, merchant_objects

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="run once, in the SQLite pass",
    ),
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per operation and generation mode: ~60 operations x 2 modes x this stays under a minute.
EXAMPLES = int(os.environ.get("SCHEMA_CONFORMANCE_EXAMPLES", "6"))
_PARAM = re.compile(r"\{(\w+)\}")


def _real_ids(path: str, objects: dict[str, str]) -> dict[str, str]:
    """Path parameter -> a real id of the merchant, for the parameters the walker knows."""
    ids = {}
    segments = path.strip("/").split("/")
    for previous, segment in itertools.pairwise(segments):
        match = _PARAM.fullmatch(segment)
        if match:
            resource = KWARG_RESOURCES.get((previous, match[1]))
            if resource in objects:
                ids[match[1]] = objects[resource]
    return ids


@pytest.fixture
def merchant_world(transactional_db):
    merchant = MerchantFactory(name="Conformance Shop")
    objects = merchant_objects(merchant)
    secret = api_secret_for(merchant)
    return objects, {"Authorization": f"Bearer {secret}"}


def _check_operation(operation, mode, *, ids, auth, base_url, failures) -> None:
    """Generated calls to one operation; the simplest failing case, if any, in ``failures``."""
    key = (operation.method.upper(), operation.path, mode.value)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), use_real_ids=st.booleans())
    def call(case, use_real_ids):
        if ids and (mode is GenerationMode.POSITIVE or use_real_ids):
            case.path_parameters = {**(case.path_parameters or {}), **ids}
        headers = {**(case.headers or {}), **auth}
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        except (Failure, FailureGroup) as failure:
            # Hypothesis shrinks: the last failure kept is the simplest case.
            lines = [line for line in str(failure).splitlines() if line.strip()]
            failures[key] = " | ".join(lines[:10])[:900]
            raise

    try:
        call()
    except (Failure, FailureGroup):
        if key not in failures:  # not a check that failed: a broken test, say so
            raise


def test_every_answer_of_the_live_server_matches_its_own_schema(live_server, merchant_world):
    objects, auth = merchant_world
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # the schema really was read

    failures: dict[tuple[str, str, str], str] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _check_operation(
                operation,
                mode,
                ids=_real_ids(operation.path, objects),
                auth=auth,
                base_url=live_server.url,
                failures=failures,
            )

    report = [f"{m} {p} ({mode}): {text}" for (m, p, mode), text in sorted(failures.items())]
    assert not failures, f"{len(failures)} non-conforming operations:\n" + "\n".join(report)
