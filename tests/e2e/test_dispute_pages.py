"""A French-speaking operator opens a request whose payments are disputed, on a desktop and
on a phone: the badge, the section and the timeline in French, fitting the screen and
passing axe-core."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from merchants.models import OperatorPreference
from payments import services
from payments.models import Leg
from payments.services.disputes import dispute_record
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_small_screens import PHONE, fits_the_screen
from tests.factories import MembershipFactory, make_request, participants

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def disputed(merchant, tokenise):
    payment_request = make_request(
        merchant,
        reference="CONCERT-42",
        total_amount=2000,
        participants=participants(2, amount=1000),
    )
    for index, participant in enumerate(payment_request.participants.all()):
        services.checkout_start(participant=participant, method="card", source=tokenise())
        dispute_record(
            provider="sandbox",
            provider_reference=f"dis_{index}",
            leg=Leg.objects.get(checkout__participant=participant),
            amount=1000 if index else 400,
            currency="EUR",
            reason="product_not_received" if index else "fraudulent",
            status="lost" if index else "needs_response",
            evidence_due_by=datetime(2027, 1, 15, 4, 59, tzinfo=UTC),
        )
    return payment_request


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_french_operator_sees_the_disputes_of_a_request(
    page, live_server, merchant, disputed, screenshot, axe_check, size
):
    if size == "phone":
        page.set_viewport_size(PHONE)
    user = MembershipFactory(merchant=merchant, role="viewer").user
    OperatorPreference.objects.create(user=user, language="fr")
    log_in(page, live_server, user)
    expect(page.get_by_test_id("mode-badge")).to_be_attached()

    page.goto(f"{live_server.url}/app/requests/{disputed.public_id}/")

    expect(page.get_by_test_id("disputed-badge")).to_have_text("Contesté")
    section = page.get_by_test_id("disputes")
    expect(section).to_contain_text("Réponse attendue")
    expect(section).to_contain_text("Perdu")
    expect(section).to_contain_text("Produit non reçu")
    expect(page.get_by_test_id("disputes-lost")).to_contain_text("Perdu en litiges")
    expect(page.get_by_test_id("timeline")).to_contain_text("Paiement contesté")
    page.get_by_test_id("disputed-badge").click()
    expect(page).to_have_url(f"{live_server.url}/app/requests/{disputed.public_id}/#disputes")
    axe_check()
    if size == "phone":
        fits_the_screen(page)
    screenshot(f"disputes-request-{size}")
