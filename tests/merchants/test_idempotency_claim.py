"""Idempotency keys: one record per merchant, mode and key; expired ones are reclaimed."""

from datetime import timedelta

import pytest

from merchants.models import IdempotencyRecord
from merchants.services import idempotency_claim, idempotency_cutoff


def claim(merchant, *, livemode=False, key="key-1", fingerprint="f1"):
    return idempotency_claim(merchant=merchant, livemode=livemode, key=key, fingerprint=fingerprint)


@pytest.mark.django_db
def test_the_same_key_twice_is_claimed_once(merchant):
    first = claim(merchant)

    assert first is not None and first.request_fingerprint == "f1"
    assert claim(merchant, fingerprint="f2") is None
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_in_the_other_mode_or_merchant_is_another_record(merchant, other_merchant):
    test_record = claim(merchant, livemode=False)
    live_record = claim(merchant, livemode=True)
    theirs = claim(other_merchant)

    assert None not in (test_record, live_record, theirs)
    assert len({test_record.pk, live_record.pk, theirs.pk}) == 3
    assert live_record.livemode is True and test_record.livemode is False


@pytest.mark.django_db
def test_an_expired_key_can_be_claimed_again(merchant):
    old = claim(merchant)
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=idempotency_cutoff() - timedelta(minutes=1)
    )

    fresh = claim(merchant, fingerprint="f2")

    assert fresh is not None and fresh.pk != old.pk
    assert list(IdempotencyRecord.objects.values_list("request_fingerprint", flat=True)) == ["f2"]
