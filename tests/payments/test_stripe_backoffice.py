"""The owner's page for the merchant's Stripe account."""

import pytest

from payments.credentials_models import ProviderCredential
from tests.factories import MembershipFactory
from tests.payments.conftest import STRIPE_TEST_KEY, STRIPE_WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

URL = "/app/providers/stripe/"


@pytest.fixture
def owner(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)
    return client


def test_an_owner_saves_the_key_and_never_sees_it_again(owner, merchant):
    saved = owner.post(
        URL,
        {"action": "save", "secret_key": STRIPE_TEST_KEY, "webhook_secret": STRIPE_WEBHOOK_SECRET},
    )
    page = owner.get(saved.url).content.decode()

    assert saved.status_code == 302
    row = ProviderCredential.objects.get(merchant=merchant, livemode=False)
    assert STRIPE_TEST_KEY not in page and STRIPE_WEBHOOK_SECRET not in page
    assert "•••• 0000" in page and f"/webhooks/stripe/{row.webhook_id}/" in page
    assert 'type="password"' in page and 'value="sk_' not in page


def test_a_live_key_in_test_mode_is_refused_on_its_field(owner):
    answer = owner.post(URL, {"action": "save", "secret_key": "sk_live_51AlphaShopLiveKey00000"})

    assert answer.status_code == 422
    assert "This is a live-mode key" in answer.content.decode()
    assert not ProviderCredential.objects.exists()


def test_the_connection_test_and_removal_from_the_page(owner, merchant, stripe_stub):
    owner.post(URL, {"action": "save", "secret_key": STRIPE_TEST_KEY})

    tested = owner.post(URL, {"action": "test"})
    assert tested.status_code == 302
    assert "acct_" in owner.get(URL).content.decode()
    stripe_stub.revoked.add(STRIPE_TEST_KEY)
    refused = owner.post(URL, {"action": "test"})
    assert refused.status_code == 422 and "Stripe refused the key" in refused.content.decode()
    removed = owner.post(URL, {"action": "delete"})
    assert removed.status_code == 302 and not ProviderCredential.objects.exists()
    assert owner.post(URL, {"action": "delete"}).status_code == 409
    assert owner.post(URL, {"action": "launch"}).status_code == 422


@pytest.mark.parametrize("role", ["admin", "agent", "viewer"])
def test_only_owners_reach_the_page(client, merchant, role):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)

    assert client.get(URL).status_code == 403
    assert client.post(URL, {"action": "save", "secret_key": STRIPE_TEST_KEY}).status_code == 403
    assert not ProviderCredential.objects.exists()
