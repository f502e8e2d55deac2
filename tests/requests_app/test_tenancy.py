"""Merchant B's key never sees merchant A's requests: always a 404, never a 403."""

import pytest

from requests_app.models import PaymentRequest
from tests.factories import make_request

URL = "/api/v1/payment-requests"


@pytest.fixture
def alphas_request(merchant):
    return make_request(merchant, reference="ALPHA-1")


def assert_not_found(response):
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_another_merchant_cannot_list_them(other_api, alphas_request):
    response = other_api.get(URL)
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert other_api.get(URL, {"reference": "ALPHA-1"}).json()["results"] == []


@pytest.mark.django_db
def test_another_merchant_cannot_read_update_or_cancel_them(other_api, alphas_request, future):
    url = f"{URL}/{alphas_request.public_id}"

    assert_not_found(other_api.get(url))
    assert_not_found(other_api.patch(url, {"description": "pwned"}, format="json"))
    assert_not_found(other_api.post(f"{url}/cancel", {}, format="json"))
    assert_not_found(
        other_api.post(
            f"{url}/participants",
            {"name": "Eve", "email": "eve@example.com", "amount": 100},
            format="json",
        )
    )
    participant = alphas_request.participants.first()
    assert_not_found(other_api.delete(f"{url}/participants/{participant.public_id}"))

    alphas_request.refresh_from_db()
    assert alphas_request.status == "open"
    assert alphas_request.description == ""
    assert alphas_request.participants.count() == 3


@pytest.mark.django_db
def test_an_unknown_id_and_a_foreign_id_look_the_same(other_api, alphas_request):
    foreign = other_api.get(f"{URL}/{alphas_request.public_id}")
    unknown = other_api.get(f"{URL}/pr_doesnotexist")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"]["code"] == unknown.json()["error"]["code"]


@pytest.mark.django_db
def test_a_participant_of_another_request_is_not_found(api, merchant):
    first = make_request(merchant, reference="R1")
    second = make_request(merchant, reference="R2")
    stranger = second.participants.first()
    response = api.delete(f"{URL}/{first.public_id}/participants/{stranger.public_id}")
    assert_not_found(response)
    assert (
        PaymentRequest.objects.get(pk=second.pk).participants.filter(status="pending").count() == 3
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "authentication_required"),
        ("Bearer sk_test_wrong", "invalid_api_key"),
        ("Bearer", "malformed_authorization"),
        ("Basic dXNlcjpwYXNz", "malformed_authorization"),
        ("Bearer not-a-key", "invalid_api_key"),
    ],
)
def test_calls_without_a_valid_key_are_401(client, header, code):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(URL, **kwargs)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_a_revoked_key_stops_working(merchant, client):
    from merchants.services import api_key_create, api_key_revoke

    created = api_key_create(merchant=merchant)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {created.secret}"}
    assert client.get(URL, **auth).status_code == 200
    created.api_key.refresh_from_db()
    assert created.api_key.last_used_at is not None

    api_key_revoke(api_key=created.api_key)

    response = client.get(URL, **auth)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


@pytest.mark.django_db
def test_only_a_hash_of_the_secret_is_stored(merchant):
    from merchants.models import ApiKey
    from merchants.services import api_key_create

    created = api_key_create(merchant=merchant, mode="live")
    row = ApiKey.objects.get(pk=created.api_key.pk)
    assert created.secret.startswith("sk_live_")
    assert row.prefix == created.secret[:12]
    assert created.secret not in (row.secret_hash, row.prefix, row.name)
    assert len(row.secret_hash) == 64


@pytest.mark.django_db
def test_unknown_api_paths_answer_in_the_error_shape(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
