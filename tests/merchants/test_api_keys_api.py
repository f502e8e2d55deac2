"""API keys over the API: listed without their secret, created in the caller's mode with the
secret shown once (and never stored, even for an idempotent replay), revoked at once."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from merchants.models import ApiKey, IdempotencyRecord
from merchants.services import MAX_ACTIVE_API_KEYS, api_key_create, hash_secret

URL = "/api/v1/api-keys"


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def caller(merchant):
    return api_key_create(merchant=merchant, name="Caller")


@pytest.fixture
def api(caller):
    return client_for(caller.secret)


@pytest.mark.django_db
def test_a_created_key_shows_its_secret_once_and_the_secret_works(api, merchant):
    response = api.post(URL, {"name": "Shop backend"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("sk_test_") and body["prefix"] == body["secret"][:12]
    assert body["id"].startswith("ak_") and body["name"] == "Shop backend"
    assert body["mode"] == "test" and body["livemode"] is False and body["revoked"] is False
    row = ApiKey.objects.get(public_id=body["id"])
    assert row.merchant == merchant and row.secret_hash == hash_secret(body["secret"])
    # The new secret authenticates, and reading the key again never shows the secret.
    again = client_for(body["secret"]).get(f"{URL}/{body['id']}")
    assert again.status_code == 200 and "secret" not in again.json()
    assert body["secret"] not in str(api.get(URL).json())


@pytest.mark.django_db
def test_the_list_shows_the_callers_mode_only_newest_first_without_secrets(api, merchant, caller):
    older = api_key_create(merchant=merchant, name="Older")
    live = api_key_create(merchant=merchant, name="Live one", mode="live")

    body = api.get(URL).json()

    ids = [key["id"] for key in body["results"]]
    assert ids == [older.api_key.public_id, caller.api_key.public_id]
    assert live.api_key.public_id not in ids
    assert set(body) == {"next", "previous", "results"}
    for key in body["results"]:
        assert "secret" not in key and "secret_hash" not in key
        assert set(key) >= {"prefix", "name", "mode", "created_at", "last_used_at", "revoked"}
    # The calling key was just used; last_used_at says so.
    assert body["results"][1]["last_used_at"] is not None


@pytest.mark.django_db
def test_a_live_key_creates_live_keys_and_a_mode_in_the_body_is_refused(merchant):
    live = client_for(api_key_create(merchant=merchant, mode="live").secret)

    created = live.post(URL, {"name": "Live backend"}, format="json")
    assert created.status_code == 201 and created.json()["secret"].startswith("sk_live_")
    assert created.json()["livemode"] is True

    refused = client_for(api_key_create(merchant=merchant).secret).post(
        URL, {"name": "Escalate", "mode": "live"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "unknown_field"
    assert refused.json()["error"]["field"] == "mode"
    assert not ApiKey.objects.filter(name="Escalate").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"name": ""}, 422, "invalid_name", "name"),
        ({"name": "   "}, 422, "invalid_name", "name"),
        ({"name": "a\tb"}, 422, "invalid_name", "name"),
        ({"name": "a\x00b"}, 400, "parse_error", None),
        ({"name": "x" * 101}, 422, "max_length", "name"),
        ({"name": 5}, 422, "invalid_name", "name"),
        ([], 400, "not_an_object", None),
    ],
)
def test_a_malformed_creation_is_refused_in_the_error_shape(api, body, status, code, field):
    before = ApiKey.objects.count()

    response = api.post(URL, body, format="json")

    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert ApiKey.objects.count() == before


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_a_400(api):
    response = api.post(URL, data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.django_db
def test_a_replayed_creation_makes_no_second_key_and_never_stores_the_secret(api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-key-1"}

    first = api.post(URL, {"name": "Once"}, format="json", **headers)
    replay = api.post(URL, {"name": "Once"}, format="json", **headers)

    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["secret"] is None
    assert ApiKey.objects.filter(name="Once").count() == 1
    record = IdempotencyRecord.objects.get(key="create-key-1")
    assert first.json()["secret"] not in str(record.response_body)


@pytest.mark.django_db
def test_no_more_than_the_cap_of_active_keys(api, merchant):
    for n in range(MAX_ACTIVE_API_KEYS - 1):  # the caller is the first
        api_key_create(merchant=merchant, name=f"k{n}")

    refused = api.post(URL, {"name": "One too many"}, format="json")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_many_api_keys"
    # A live key still has room: the cap counts per mode.
    live = client_for(api_key_create(merchant=merchant, mode="live").secret)
    assert live.post(URL, {"name": "Live"}, format="json").status_code == 201


@pytest.mark.django_db
def test_a_revoked_key_gets_a_401_on_its_very_next_call(api, merchant):
    victim = api_key_create(merchant=merchant, name="Leaked")
    victim_client = client_for(victim.secret)
    assert victim_client.get(URL).status_code == 200

    response = api.post(f"{URL}/{victim.api_key.public_id}/revoke")

    assert response.status_code == 200
    assert response.json()["revoked"] is True and response.json()["revoked_at"]
    refused = victim_client.get(URL)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_revoked"
    # The revoked key is still listed (with its date), so operators see what happened.
    listed = {key["id"]: key for key in api.get(URL).json()["results"]}
    assert listed[victim.api_key.public_id]["revoked"] is True


@pytest.mark.django_db
def test_revoking_twice_keeps_the_first_date(api, merchant):
    victim = api_key_create(merchant=merchant)
    url = f"{URL}/{victim.api_key.public_id}/revoke"

    first = api.post(url).json()["revoked_at"]
    second = api.post(url)

    assert second.status_code == 200 and second.json()["revoked_at"] == first


@pytest.mark.django_db
def test_a_key_cannot_revoke_itself(api, caller):
    response = api.post(f"{URL}/{caller.api_key.public_id}/revoke")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cannot_revoke_own_key"
    assert api.get(URL).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["get", "revoke"])
def test_another_merchants_key_and_the_other_modes_are_404(api, merchant, other_merchant, action):
    foreign = api_key_create(merchant=other_merchant).api_key
    live = api_key_create(merchant=merchant, mode="live").api_key

    for key in (foreign, live):
        url = f"{URL}/{key.public_id}"
        response = api.get(url) if action == "get" else api.post(f"{url}/revoke")
        assert response.status_code == 404, key
        assert response.json()["error"]["code"] == "not_found"
        key.refresh_from_db()
        assert key.revoked_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("junk", ["x", "ak_" + "A" * 24, "é☃", "9" * 400])
def test_an_unknown_id_is_404(api, junk):
    assert api.get(f"{URL}/{junk}").status_code == 404
    assert api.post(f"{URL}/{junk}/revoke").status_code == 404


@pytest.mark.django_db
def test_without_a_key_nothing_is_listed():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_revocations_keep_one_date(merchant):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer: nothing runs concurrently")
    revokers = [api_key_create(merchant=merchant).secret for _ in range(2)]
    victim = api_key_create(merchant=merchant).api_key
    barrier = threading.Barrier(2)
    dates = []

    def revoke(secret):
        try:
            barrier.wait()
            response = client_for(secret).post(f"{URL}/{victim.public_id}/revoke")
            dates.append(response.json()["revoked_at"])
        finally:
            connection.close()

    threads = [threading.Thread(target=revoke, args=(secret,)) for secret in revokers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    victim.refresh_from_db()
    assert len(dates) == 2 and len(set(dates)) == 1
    assert dates[0] == victim.revoked_at.isoformat().replace("+00:00", "Z")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_at_the_cap_make_one_key(merchant):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer: nothing runs concurrently")
    callers = [api_key_create(merchant=merchant).secret for _ in range(2)]
    for n in range(MAX_ACTIVE_API_KEYS - 3):  # one place left
        api_key_create(merchant=merchant, name=f"k{n}")
    barrier = threading.Barrier(2)
    statuses = []

    def create(secret):
        try:
            barrier.wait()
            response = client_for(secret).post(URL, {"name": "Race"}, format="json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(secret,)) for secret in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409]
    assert ApiKey.objects.filter(merchant=merchant, revoked_at__isnull=True).count() == (
        MAX_ACTIVE_API_KEYS
    )
