"""Merchants' own Stripe credentials: stored encrypted, never shown again, per mode, and what
they decide about which acquirer serves cards."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from payments import registry
from payments.adapters.stripe_card import StripeCardAdapter
from payments.credentials_models import ProviderCredential
from payments.models import Leg
from payments.selectors import payment_methods_for_request
from payments.services.credentials import (
    provider_credentials_delete,
    provider_credentials_rotate,
    provider_credentials_save,
    provider_credentials_test,
)
from pushpay.errors import InvalidInput, StateConflict
from requests_app.models import PaymentRequest
from tests.factories import api_secret_for, make_request
from tests.payments.conftest import STRIPE_LIVE_KEY, STRIPE_TEST_KEY, STRIPE_WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def test_the_secret_is_stored_encrypted_and_only_its_last_four_are_kept_in_clear(merchant):
    row = provider_credentials_save(
        merchant=merchant,
        livemode=False,
        secret_key=STRIPE_TEST_KEY,
        webhook_secret=STRIPE_WEBHOOK_SECRET,
    )

    stored = ProviderCredential.objects.values().get(pk=row.pk)
    assert STRIPE_TEST_KEY not in str(stored) and STRIPE_WEBHOOK_SECRET not in str(stored)
    assert (stored["secret_key_last4"], stored["webhook_secret_last4"]) == ("0000", "0000")
    assert str(row) == "stripe test ••••0000"
    assert row.webhook_id.startswith("whp_")


@pytest.mark.parametrize(
    ("livemode", "key", "code"),
    [
        (True, STRIPE_TEST_KEY, "key_mode_mismatch"),
        (False, STRIPE_LIVE_KEY, "key_mode_mismatch"),
        (False, "pk_test_51Publishable000000", "invalid_secret_key"),
        (False, "sk_test_" + "a" * 300, "invalid_secret_key"),
        (False, "sk_test_short", "invalid_secret_key"),
        (False, "", "required"),
        (False, None, "required"),
        (False, "sk_test_51With Space000000", "invalid_secret_key"),
    ],
)
def test_a_key_of_the_wrong_mode_or_shape_is_refused(merchant, livemode, key, code):
    with pytest.raises(InvalidInput) as refused:
        provider_credentials_save(merchant=merchant, livemode=livemode, secret_key=key)

    assert (refused.value.code, refused.value.field) == (code, "secret_key")
    assert not ProviderCredential.objects.exists()


def test_a_malformed_webhook_secret_is_refused(merchant):
    with pytest.raises(InvalidInput) as refused:
        provider_credentials_save(
            merchant=merchant, livemode=False, secret_key=STRIPE_TEST_KEY, webhook_secret="nope"
        )
    assert refused.value.code == "invalid_webhook_secret"


def test_saving_again_replaces_the_key_and_keeps_the_webhook_secret_unless_given(merchant):
    first = provider_credentials_save(
        merchant=merchant,
        livemode=False,
        secret_key=STRIPE_TEST_KEY,
        webhook_secret=STRIPE_WEBHOOK_SECRET,
    )
    again = provider_credentials_save(
        merchant=merchant, livemode=False, secret_key="sk_test_51AnotherTestKey00001234"
    )

    assert again.pk == first.pk and again.webhook_id == first.webhook_id
    assert (again.secret_key_last4, again.webhook_secret_last4) == ("1234", "0000")
    assert ProviderCredential.objects.count() == 1


def test_test_and_live_credentials_are_apart(merchant, other_merchant):
    provider_credentials_save(merchant=merchant, livemode=False, secret_key=STRIPE_TEST_KEY)

    assert isinstance(
        registry.adapter_for(merchant=merchant, method="card", livemode=False), StripeCardAdapter
    )
    # No live key: live cards are not offered, and no sandbox stands in.
    assert not registry.payment_method_available(merchant=merchant, method="card", livemode=True)
    with pytest.raises(InvalidInput):
        registry.adapter_for(merchant=merchant, method="card", livemode=True)
    # Another merchant's keys are not this one's.
    assert registry.adapter_for(merchant=other_merchant, method="card", livemode=False).is_sandbox


def test_a_live_merchant_without_stripe_keys_is_never_offered_cards(merchant, settings):
    settings.DEBUG = False
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    body = {
        "reference": "LIVE-1",
        "currency": "EUR",
        "total_amount": 3000,
        "split": "equal",
        "participants": [{"name": "Ann", "email": "ann@example.com"}],
    }

    refused = live.post("/api/v1/payment-requests", body, format="json")
    provider_credentials_save(merchant=merchant, livemode=True, secret_key=STRIPE_LIVE_KEY)
    created = live.post("/api/v1/payment-requests", {**body, "reference": "LIVE-2"}, format="json")

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "payment_methods_unavailable"
    assert created.status_code == 201, created.content
    payment_request = PaymentRequest.objects.get(reference="LIVE-2")
    assert payment_request.livemode is True
    assert payment_methods_for_request(payment_request=payment_request) == ["card"]


def test_with_live_keys_a_live_payer_is_sent_to_stripe_and_no_sandbox_is_used(
    client, merchant, stripe_stub, stripe_live_account
):
    from payments.sandbox.models import SandboxAuthorisation, SandboxCard

    payment_request = make_request(merchant)
    PaymentRequest.objects.filter(pk=payment_request.pk).update(livemode=True)
    payment_request.participants.update(livemode=True)
    payer = payment_request.participants.first()

    page = client.get(f"/pay/{payer.link_token}/").content.decode()
    answer = client.post(f"/pay/{payer.link_token}/", {"method": "card"})

    assert "sandbox-tokenize.js" not in page and "Test mode" not in page
    assert answer.status_code == 302 and answer.url.startswith(
        f"{stripe_stub.base_url}/pay/cs_live_"
    )
    leg = Leg.objects.get()
    assert (leg.livemode, leg.provider) == (True, "stripe")
    assert {call["api_key"] for call in stripe_stub.requests} == {STRIPE_LIVE_KEY}
    assert not SandboxAuthorisation.objects.exists() and not SandboxCard.objects.exists()


def test_the_connection_test_asks_stripe_who_the_key_belongs_to(merchant, stripe_stub):
    provider_credentials_save(merchant=merchant, livemode=False, secret_key=STRIPE_TEST_KEY)

    row = provider_credentials_test(merchant=merchant, livemode=False)

    assert row.account_reference.startswith("acct_") and row.tested_at is not None
    stripe_stub.revoked.add(STRIPE_TEST_KEY)
    with pytest.raises(InvalidInput) as rejected:
        provider_credentials_test(merchant=merchant, livemode=False)
    assert rejected.value.code == "provider_credentials_rejected"
    stripe_stub.revoked.clear()
    stripe_stub.fail("GET", "account", "500")
    with pytest.raises(StateConflict) as unreachable:
        provider_credentials_test(merchant=merchant, livemode=False)
    assert unreachable.value.code == "provider_unreachable"
    with pytest.raises(StateConflict):
        provider_credentials_test(merchant=merchant, livemode=True)  # nothing stored


def test_deleting_is_refused_while_a_stripe_hold_is_open(
    client, merchant, stripe_stub, stripe_test_account
):
    from tests.payments.stripe_helpers import start_card_payment

    payer = make_request(merchant).participants.first()
    start_card_payment(client, payer, stripe_stub)

    with pytest.raises(StateConflict) as busy:
        provider_credentials_delete(merchant=merchant, livemode=False)
    assert busy.value.code == "credentials_in_use"
    Leg.objects.update(status=Leg.Status.VOIDED)
    provider_credentials_delete(merchant=merchant, livemode=False)

    assert not ProviderCredential.objects.exists()
    assert registry.adapter_for(merchant=merchant, method="card", livemode=False).is_sandbox
    with pytest.raises(StateConflict):
        provider_credentials_delete(merchant=merchant, livemode=False)


def test_rotation_re_encrypts_with_the_new_key_so_the_old_one_can_go(merchant, settings):
    old = settings.PROVIDER_CREDENTIALS_KEYS[0]
    provider_credentials_save(
        merchant=merchant,
        livemode=False,
        secret_key=STRIPE_TEST_KEY,
        webhook_secret=STRIPE_WEBHOOK_SECRET,
    )
    new = Fernet.generate_key().decode()
    settings.PROVIDER_CREDENTIALS_KEYS = [new, old]

    assert provider_credentials_rotate() == 1
    settings.PROVIDER_CREDENTIALS_KEYS = [new]

    row = ProviderCredential.objects.get()
    assert (
        Fernet(new.encode()).decrypt(row.secret_key_encrypted.encode()).decode() == STRIPE_TEST_KEY
    )
    assert (
        Fernet(new.encode()).decrypt(row.webhook_secret_encrypted.encode()).decode()
        == STRIPE_WEBHOOK_SECRET
    )


def test_rotation_without_the_old_key_stops_with_a_clear_error(merchant, settings):
    provider_credentials_save(merchant=merchant, livemode=False, secret_key=STRIPE_TEST_KEY)
    settings.PROVIDER_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(CommandError, match="opens with none of PROVIDER_CREDENTIALS_KEYS"):
        call_command("rotate_provider_credentials")
