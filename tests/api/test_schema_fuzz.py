"""Calls generated from our own OpenAPI schema, valid and invalid: whatever an integrator
sends, the API answers in its error shape and never with a server error."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from pushpay.wsgi import application
from tests.factories import MerchantFactory, api_secret_for, make_request

SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
STRATEGIES = [
    operation.as_strategy(generation_mode=mode)
    for operation in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
]


@pytest.fixture
def auth_header(db):
    merchant = MerchantFactory()
    make_request(merchant)
    return {"Authorization": f"Bearer {api_secret_for(merchant)}"}


@pytest.mark.django_db(transaction=True)  # each call commits on its own, as in production
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_generated_call_gets_a_server_error(data, auth_header):
    case = data.draw(st.sampled_from(STRATEGIES).flatmap(lambda strategy: strategy))
    response = case.call(headers=auth_header)
    assert response.status_code < 500, (
        case.method,
        case.formatted_path,
        case.query,
        repr(case.headers),
        response.text[:300],
    )
    if response.status_code >= 400 and "json" in response.headers.get("Content-Type", ""):
        assert set(response.json()["error"]) >= {"type", "code", "message", "field"}
