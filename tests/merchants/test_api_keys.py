"""API keys: shown once, stored as a hash, bound to one mode, refused once revoked."""

from datetime import timedelta

import pytest
from django.utils import timezone

from merchants.models import ApiKey
from merchants.services import (
    LAST_USED_RESOLUTION,
    ApiKeyInvalid,
    ApiKeyRevoked,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    hash_secret,
)


@pytest.mark.django_db
@pytest.mark.parametrize(("mode", "livemode"), [("test", False), ("live", True)])
def test_the_mode_is_in_the_secrets_prefix_and_decides_livemode(merchant, mode, livemode):
    created = api_key_create(merchant=merchant, mode=mode)

    assert created.secret.startswith(f"sk_{mode}_")
    assert created.api_key.prefix == created.secret[:12]
    assert created.api_key.livemode is livemode


@pytest.mark.django_db
def test_an_unknown_mode_is_refused(merchant):
    with pytest.raises(ValueError, match="mode"):
        api_key_create(merchant=merchant, mode="prod")
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_only_the_hash_of_the_secret_is_stored(merchant):
    created = api_key_create(merchant=merchant)

    row = ApiKey.objects.values().get(pk=created.api_key.pk)
    assert row["secret_hash"] == hash_secret(created.secret) != created.secret
    assert all(created.secret not in str(value) for value in row.values())


@pytest.mark.django_db
def test_the_secret_finds_its_key_and_a_wrong_one_finds_none(merchant):
    created = api_key_create(merchant=merchant)

    assert api_key_authenticate(secret=created.secret) == created.api_key
    with pytest.raises(ApiKeyInvalid):
        api_key_authenticate(secret=created.secret + "x")


@pytest.mark.django_db
def test_a_revoked_key_is_refused_and_revoking_twice_keeps_the_first_date(merchant):
    created = api_key_create(merchant=merchant)
    revoked_at = api_key_revoke(api_key=created.api_key).revoked_at

    api_key_revoke(api_key=ApiKey.objects.get(pk=created.api_key.pk))

    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_at == revoked_at
    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(secret=created.secret)


@pytest.mark.django_db
def test_last_used_at_is_written_at_most_once_per_resolution(merchant):
    created = api_key_create(merchant=merchant)
    first = api_key_authenticate(secret=created.secret).last_used_at
    assert first is not None

    assert api_key_authenticate(secret=created.secret).last_used_at == first
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == first

    stale = timezone.now() - LAST_USED_RESOLUTION - timedelta(seconds=1)
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=stale)
    assert api_key_authenticate(secret=created.secret).last_used_at > stale
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at > stale
