"""Merchants' own PayPal apps: stored encrypted, shown again only as last four characters, per
mode, tested by fetching a token, refused removal while money is held, and the owner's page."""

import pytest
from cryptography.fernet import Fernet

from payments import registry
from payments.adapters.paypal_rest import PayPalRestAdapter
from payments.credentials_models import ProviderCredential
from payments.models import Leg
from payments.services.credentials import (
    provider_credentials_delete,
    provider_credentials_rotate,
    provider_credentials_save,
    provider_credentials_test,
)
from pushpay.errors import InvalidInput, StateConflict
from tests.factories import MembershipFactory, make_request
from tests.payments.paypal_helpers import start_paypal_payment
from tests.stubs.stripe_accounts import (
    PAYPAL_LIVE_CLIENT_ID,
    PAYPAL_LIVE_SECRET,
    PAYPAL_SANDBOX_CLIENT_ID,
    PAYPAL_SANDBOX_SECRET,
    PAYPAL_WEBHOOK_ID,
    STRIPE_TEST_KEY,
)

pytestmark = pytest.mark.django_db

URL = "/app/providers/paypal/"


def save(merchant, livemode=False, **overrides):
    values = {
        "client_id": PAYPAL_SANDBOX_CLIENT_ID,
        "secret_key": PAYPAL_SANDBOX_SECRET,
        "webhook_secret": PAYPAL_WEBHOOK_ID,
        **overrides,
    }
    return provider_credentials_save(
        merchant=merchant, livemode=livemode, provider="paypal", **values
    )


def test_the_client_id_and_secret_are_stored_encrypted_and_only_their_last_four_kept(merchant):
    row = save(merchant)

    stored = ProviderCredential.objects.values().get(pk=row.pk)
    for secret in (PAYPAL_SANDBOX_CLIENT_ID, PAYPAL_SANDBOX_SECRET, PAYPAL_WEBHOOK_ID):
        assert secret not in str(stored)
    assert (stored["client_id_last4"], stored["secret_key_last4"]) == ("0000", "0000")
    assert stored["webhook_secret_last4"] == "214C"
    assert str(row) == "paypal test ••••0000"
    assert row.webhook_id.startswith("whp_")


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"client_id": ""}, "required", "client_id"),
        ({"client_id": None}, "required", "client_id"),
        ({"client_id": "short"}, "invalid_client_id", "client_id"),
        ({"client_id": "A" * 200}, "invalid_client_id", "client_id"),
        ({"client_id": "Alpha Shop Client Id 000"}, "invalid_client_id", "client_id"),
        ({"secret_key": ""}, "required", "secret_key"),
        ({"secret_key": "with;semicolon0000000"}, "invalid_secret_key", "secret_key"),
        ({"webhook_secret": "not a webhook id!"}, "invalid_webhook_id", "webhook_secret"),
        ({"webhook_secret": 12}, "invalid_webhook_id", "webhook_secret"),
    ],
)
def test_malformed_values_are_refused_on_their_field_and_nothing_is_saved(
    merchant, overrides, code, field
):
    with pytest.raises(InvalidInput) as refused:
        save(merchant, **overrides)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert not ProviderCredential.objects.exists()


def test_paypal_and_stripe_credentials_and_the_two_modes_are_apart(merchant, other_merchant):
    save(merchant)
    provider_credentials_save(merchant=merchant, livemode=False, secret_key=STRIPE_TEST_KEY)

    assert ProviderCredential.objects.filter(merchant=merchant).count() == 2
    assert isinstance(
        registry.adapter_for(merchant=merchant, method="paypal", livemode=False),
        PayPalRestAdapter,
    )
    # No live PayPal app: live PayPal is not offered, and no sandbox stands in.
    assert not registry.payment_method_available(merchant=merchant, method="paypal", livemode=True)
    with pytest.raises(InvalidInput):
        registry.adapter_for(merchant=merchant, method="paypal", livemode=True)
    # Another merchant's app is not this one's.
    assert registry.adapter_for(merchant=other_merchant, method="paypal", livemode=False).is_sandbox


def test_the_connection_test_fetches_a_token_with_the_stored_app(merchant, paypal_stub):
    save(merchant)

    row = provider_credentials_test(merchant=merchant, livemode=False, provider="paypal")

    assert row.account_reference.startswith("APP-") and row.tested_at is not None
    [token] = paypal_stub.calls("POST", "/v1/oauth2/token")
    assert token["environment"] == "sandbox" and token["authorization"] == "Basic "
    paypal_stub.fail("POST", "/v1/oauth2/token", "500")
    with pytest.raises(StateConflict) as unreachable:
        provider_credentials_test(merchant=merchant, livemode=False, provider="paypal")
    assert unreachable.value.code == "provider_unreachable"
    with pytest.raises(StateConflict) as nothing:
        provider_credentials_test(merchant=merchant, livemode=True, provider="paypal")
    assert nothing.value.code == "no_credentials"


def test_a_wrong_secret_or_a_sandbox_app_saved_as_live_is_refused_by_the_test(
    merchant, paypal_stub
):
    save(merchant, secret_key="WrongSecret000000000000000")
    save(merchant, livemode=True)  # the sandbox app, typed into live mode

    for livemode in (False, True):
        with pytest.raises(InvalidInput) as rejected:
            provider_credentials_test(merchant=merchant, livemode=livemode, provider="paypal")
        assert rejected.value.code == "provider_credentials_rejected"
    assert {c["environment"] for c in paypal_stub.calls("POST", "/v1/oauth2/token")} == {
        "sandbox",
        "live",
    }
    save(merchant, livemode=True, client_id=PAYPAL_LIVE_CLIENT_ID, secret_key=PAYPAL_LIVE_SECRET)
    row = provider_credentials_test(merchant=merchant, livemode=True, provider="paypal")
    assert row.account_reference == paypal_stub.app(PAYPAL_LIVE_CLIENT_ID, "live").app_id


def test_removal_is_refused_while_a_paypal_payment_waits_or_holds_money(
    client, merchant, paypal_stub, paypal_test_account
):
    payer = make_request(merchant).participants.first()
    start_paypal_payment(client, payer, paypal_stub)

    with pytest.raises(StateConflict) as busy:
        provider_credentials_delete(merchant=merchant, livemode=False, provider="paypal")
    assert busy.value.code == "credentials_in_use"
    Leg.objects.update(status=Leg.Status.VOIDED)
    provider_credentials_delete(merchant=merchant, livemode=False, provider="paypal")

    assert not ProviderCredential.objects.exists()
    assert registry.adapter_for(merchant=merchant, method="paypal", livemode=False).is_sandbox


def test_rotation_re_encrypts_the_client_id_too(merchant, settings):
    old = settings.PROVIDER_CREDENTIALS_KEYS[0]
    save(merchant)
    new = Fernet.generate_key().decode()
    settings.PROVIDER_CREDENTIALS_KEYS = [new, old]

    assert provider_credentials_rotate() == 1

    row = ProviderCredential.objects.get()
    opened = Fernet(new.encode()).decrypt(row.client_id_encrypted.encode()).decode()
    assert opened == PAYPAL_SANDBOX_CLIENT_ID


# --- the owner's page ----------------------------------------------------------------------


@pytest.fixture
def owner(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)
    return client


def test_an_owner_saves_the_app_and_never_sees_its_secrets_again(owner, merchant):
    saved = owner.post(
        URL,
        {
            "action": "save",
            "client_id": PAYPAL_SANDBOX_CLIENT_ID,
            "secret_key": PAYPAL_SANDBOX_SECRET,
            "webhook_secret": PAYPAL_WEBHOOK_ID,
        },
    )
    page = owner.get(saved.url).content.decode()

    assert saved.status_code == 302
    row = ProviderCredential.objects.get(merchant=merchant, provider="paypal", livemode=False)
    assert PAYPAL_SANDBOX_CLIENT_ID not in page and PAYPAL_SANDBOX_SECRET not in page
    assert "•••• 0000" in page and "•••• 214C" in page
    assert f"/webhooks/paypal/{row.webhook_id}/" in page
    assert 'value="Alpha' not in page


def test_a_malformed_client_id_is_refused_on_its_field(owner):
    answer = owner.post(
        URL, {"action": "save", "client_id": "no spaces here please", "secret_key": "x" * 20}
    )

    assert answer.status_code == 422
    assert "This is not a PayPal client id" in answer.content.decode()
    assert not ProviderCredential.objects.exists()


def test_the_connection_test_and_removal_from_the_page(owner, merchant, paypal_stub):
    owner.post(
        URL,
        {
            "action": "save",
            "client_id": PAYPAL_SANDBOX_CLIENT_ID,
            "secret_key": "WrongSecret000000000000000",
        },
    )

    refused = owner.post(URL, {"action": "test"})
    assert refused.status_code == 422 and "PayPal refused" in refused.content.decode()
    owner.post(
        URL,
        {
            "action": "save",
            "client_id": PAYPAL_SANDBOX_CLIENT_ID,
            "secret_key": PAYPAL_SANDBOX_SECRET,
        },
    )
    tested = owner.post(URL, {"action": "test"})
    assert tested.status_code == 302
    assert "APP-" in owner.get(URL).content.decode()
    removed = owner.post(URL, {"action": "delete"})
    assert removed.status_code == 302 and not ProviderCredential.objects.exists()
    assert owner.post(URL, {"action": "delete"}).status_code == 409
    assert owner.post(URL, {"action": "launch"}).status_code == 422


def test_the_configuration_menu_links_the_page_in_french(owner, merchant):
    page = owner.get("/app/providers/paypal/?lang=fr", HTTP_ACCEPT_LANGUAGE="fr").content.decode()

    assert 'href="/app/providers/paypal/"' in page
    assert "Compte PayPal" in page and "Identifiant client" in page


@pytest.mark.parametrize("role", ["admin", "agent", "viewer"])
def test_only_owners_reach_the_page(client, merchant, role):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)

    assert client.get(URL).status_code == 403
    answer = client.post(
        URL,
        {"action": "save", "client_id": PAYPAL_SANDBOX_CLIENT_ID, "secret_key": "x" * 20},
    )
    assert answer.status_code == 403
    assert not ProviderCredential.objects.exists()
