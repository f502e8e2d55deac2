"""The published OpenAPI document itself: valid OpenAPI 3, and every operation describes its
errors in the one error shape, with examples, and the 429's Retry-After."""

import pytest
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate as validate_spec
from rest_framework.test import APIClient

from pushpay.api.schema import API_PREFIX, statuses_for


@pytest.fixture(scope="module")
def document(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get(
            "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
        )
    assert response.status_code == 200
    return response.json()


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def _resolve(document, response: dict) -> dict:
    ref = response.get("$ref")
    if ref is None:
        return response
    name = ref.rsplit("/", 1)[-1]
    return document["components"]["responses"][name]


def test_the_document_passes_two_openapi_validators(document):
    validate_spec(document)  # the OpenAPI 3.0 rules, $refs and path parameters included
    validate_schema(document)  # drf-spectacular's JSON Schema of OpenAPI 3.0


def test_every_operation_documents_its_errors_with_examples(document):
    checked = 0
    for path, method, operation in _operations(document):
        if not path.startswith(API_PREFIX):
            continue
        expected = statuses_for(path, method, operation)
        assert {"400", "401", "403", "429"} <= set(expected)
        for status in expected:
            assert status in operation["responses"], (method, path, status)
            declared = operation["responses"][status]
            content = _resolve(document, declared)["content"]["application/json"]
            if "$ref" in declared:  # the shared response: the error shape, with examples
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}
                assert content["examples"]
                for example in content["examples"].values():
                    error = example["value"]["error"]
                    assert set(error) >= {"type", "code", "message", "field"}
        checked += 1
    assert checked > 40


def test_a_path_with_an_id_documents_404_and_a_write_409_and_422(document):
    operations = {(m, p): o for p, m, o in _operations(document)}

    revoke = operations[("post", "/api/v1/api-keys/{public_id}/revoke")]["responses"]
    listing = operations[("get", "/api/v1/payment-requests")]["responses"]

    assert {"404", "409", "422"} <= set(revoke)
    assert "404" not in listing and "409" not in listing


def test_the_429_says_to_retry_after_a_number_of_seconds(document):
    too_many = document["components"]["responses"]["Error429"]

    assert too_many["headers"]["Retry-After"]["required"] is True
    assert too_many["headers"]["Retry-After"]["schema"]["type"] == "integer"
    example = next(iter(too_many["content"]["application/json"]["examples"].values()))
    assert example["value"]["error"]["code"] == "rate_limited"


def test_the_error_schema_is_the_shape_the_handler_writes(document):
    from pushpay.api.errors import error_body

    error = document["components"]["schemas"]["Error"]
    body = error_body(422, "x", "y", "z", details=[{"field": "z", "code": "x", "message": "y"}])

    assert set(error["required"]) == set(body)
    inner = error["properties"]["error"]
    assert set(inner["properties"]) == set(body["error"])
    assert body["error"]["type"] in inner["properties"]["type"]["enum"]


def test_main_operations_carry_request_and_response_examples(document):
    operations = {(m, p): o for p, m, o in _operations(document)}
    for method, path in [
        ("post", "/api/v1/payment-requests"),
        ("post", "/api/v1/api-keys"),
        ("post", "/api/v1/payment-requests/{public_id}/refund"),
    ]:
        operation = operations[(method, path)]
        request_content = operation["requestBody"]["content"]["application/json"]
        assert request_content.get("examples"), (method, path)
    for method, path in [
        ("post", "/api/v1/payment-requests"),
        ("get", "/api/v1/payment-requests/{public_id}"),
        ("post", "/api/v1/api-keys"),
        ("post", "/api/v1/api-keys/{public_id}/revoke"),
        ("get", "/api/v1/reconciliations/{public_id}"),
    ]:
        responses = operations[(method, path)]["responses"]
        success = next(s for s in responses if s.startswith("2"))
        assert responses[success]["content"]["application/json"].get("examples"), (method, path)


def _examples(document):
    """(where, schema, value) for every example of a request or response body."""
    for path, method, operation in _operations(document):
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += [(status, _resolve(document, r)) for status, r in operation["responses"].items()]
        for where, body in bodies:
            content = body.get("content", {}).get("application/json", {})
            for name, example in content.get("examples", {}).items():
                yield f"{method} {path} {where} {name!r}", content["schema"], example["value"]


def _nullable_refs(node):
    """drf-spectacular writes a nullable reference as ``{"allOf": [ref], "nullable": true}``
    and means "this or null", as schemathesis and code generators read it; the strict 3.0
    validator applies ``nullable`` to a ``type`` only, so spell that reading out."""
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_refs(value) for key, value in node.items()}
    if node.get("nullable") and "type" not in node and ("allOf" in node or "oneOf" in node):
        rest = {key: value for key, value in node.items() if key != "nullable"}
        return {"anyOf": [rest, {"enum": [None]}]}
    return node


def test_every_example_matches_its_own_schema(document):
    document = _nullable_refs(document)
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    registry = Registry().with_resource(
        "urn:document", Resource.from_contents(document, default_specification=DRAFT4)
    )
    seen = 0
    for where, schema, value in _examples(document):
        rooted = {**schema}
        if "$ref" in rooted:
            rooted = {"$ref": "urn:document" + rooted["$ref"]}
        errors = list(OAS30Validator(rooted, registry=registry).iter_errors(value))
        assert not errors, f"{where}: {errors[0].message}"
        seen += 1
    assert seen > 20


def test_docs_api_md_lists_every_path_of_the_schema(document):
    from pathlib import Path

    table = Path(__file__).resolve().parents[2].joinpath("docs", "api.md").read_text()
    missing = [
        path
        for path in document["paths"]
        if path.startswith(API_PREFIX) and f"| `{path}` |" not in table
    ]
    assert not missing, f"Add these to the 'Every endpoint' table of docs/api.md: {missing}"
