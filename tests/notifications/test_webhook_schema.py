"""The webhook API answers what its OpenAPI schema says, for successes and refusals alike:
each response body is validated against the schema declared for its status code."""

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS30Validator

from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch
from tests.factories import make_request
from tests.notifications.receiver import receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def conforms(schema, template: str, method: str, response) -> None:
    operation = schema["paths"][f"/api/v1/{template}"][method]
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, f"{method} {template}: {response.status_code} not in the schema"
    if "$ref" in declared:  # a shared error response (pushpay.api.schema)
        declared = schema["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
    if "content" not in declared:
        assert not response.content
        return
    body = declared["content"]["application/json"]["schema"]
    OAS30Validator({"components": schema["components"], "allOf": [body]}).validate(response.json())


def test_every_webhook_answer_matches_the_schema(api, other_api, merchant, schema, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_SCHEDULE = (0,)
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    endpoints, one = "webhook-endpoints", "webhook-endpoints/{public_id}"
    deliveries, delivery = "webhook-deliveries", "webhook-deliveries/{public_id}"
    with receiver([(500, b"no")]) as hook:
        created = api.post(
            f"/api/v1/{endpoints}", {"url": hook.url, "events": ["*"]}, format="json"
        )
        conforms(schema, endpoints, "post", created)
        we = created.json()["id"]
        make_request(merchant)
        dispatch_due(worker_id="w")
        dispatch_due(worker_id="w")
    nt = Dispatch.objects.get(kind="webhook").public_id
    calls = [
        (endpoints, "post", api.post(f"/api/v1/{endpoints}", {"url": "x"}, format="json")),
        (endpoints, "post", api.post(f"/api/v1/{endpoints}", [], format="json")),
        (endpoints, "get", api.get(f"/api/v1/{endpoints}")),
        (endpoints, "get", api.get(f"/api/v1/{endpoints}?cursor=junk")),
        (one, "get", api.get(f"/api/v1/webhook-endpoints/{we}")),
        (one, "get", other_api.get(f"/api/v1/webhook-endpoints/{we}")),
        (
            one,
            "patch",
            api.patch(f"/api/v1/webhook-endpoints/{we}", {"description": "d"}, format="json"),
        ),
        (one, "patch", api.patch(f"/api/v1/webhook-endpoints/{we}", {"x": 1}, format="json")),
        (one, "patch", api.patch(f"/api/v1/webhook-endpoints/{we}", {"events": []}, format="json")),
        (f"{one}/rotate-secret", "post", api.post(f"/api/v1/webhook-endpoints/{we}/rotate-secret")),
        (one, "get", api.get(f"/api/v1/webhook-endpoints/{we}")),  # now mid-overlap
        (deliveries, "get", api.get(f"/api/v1/{deliveries}?endpoint={we}")),
        (deliveries, "get", api.get(f"/api/v1/{deliveries}?status=nope")),
        (deliveries, "get", api.get(f"/api/v1/{deliveries}?type=nope")),
        (deliveries, "get", api.get(f"/api/v1/{deliveries}?endpoint=we_x")),
        (delivery, "get", api.get(f"/api/v1/webhook-deliveries/{nt}")),
        (delivery, "get", api.get("/api/v1/webhook-deliveries/nt_x")),
        (f"{delivery}/replay", "post", api.post(f"/api/v1/webhook-deliveries/{nt}/replay")),
        (f"{delivery}/replay", "post", api.post(f"/api/v1/webhook-deliveries/{nt}/replay")),
        (f"{delivery}/replay", "post", api.get(f"/api/v1/webhook-deliveries/{nt}")),
        (
            f"{one}/replay",
            "post",
            api.post(
                f"/api/v1/webhook-endpoints/{we}/replay",
                {"since": timezone.now().isoformat()},
                format="json",
            ),
        ),
        (
            f"{one}/replay",
            "post",
            api.post(f"/api/v1/webhook-endpoints/{we}/replay", {}, format="json"),
        ),
        (one, "delete", other_api.delete(f"/api/v1/webhook-endpoints/{we}")),
        (one, "delete", api.delete(f"/api/v1/webhook-endpoints/{we}")),
    ]
    statuses = set()
    for template, method, response in calls:
        if template.endswith("/replay") and response.request["REQUEST_METHOD"] == "GET":
            template, method = delivery, "get"  # the replay's detail, pending now
        conforms(schema, template, method, response)
        statuses.add(response.status_code)
    assert {200, 201, 204, 400, 404, 409, 422} <= statuses
