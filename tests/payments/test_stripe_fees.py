"""Stripe's real fee on reconciliation: read from the charge's balance transaction at the
capture (and on each refund), it wins over the merchant's fee rule; when Stripe has none to
give yet, the rule stands in and the line says why."""

import pytest

from payments import selectors, services
from payments.models import Leg, LegOperation, Reconciliation
from requests_app.services import ParticipantData
from tests.factories import MembershipFactory, make_request
from tests.payments.conftest import STRIPE_TEST_KEY
from tests.payments.stripe_helpers import pay_by_card

pytestmark = pytest.mark.django_db

# The stub's pricing (1.5% + 25, half up) on 25.00: 38 + 25.
STRIPE_FEE = 63
RULE_FEE = 60  # the merchant's rule below: 25 + 1.40%


@pytest.fixture
def rule(merchant):
    return services.fee_rule_set(merchant=merchant, method="card", fixed_fee=25, percent_bp=140)


def paid_request(client, merchant, stub, amount=2500):
    payment_request = make_request(
        merchant,
        total_amount=amount,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=amount)],
    )
    answer = pay_by_card(client, payment_request.participants.get(), stub)
    assert answer.status_code == 302 and "/receipt/" in answer.url
    return payment_request


def only_line(payment_request) -> dict:
    (line,) = selectors.reconciliation_current(payment_request=payment_request)["lines"]
    return line


def test_the_statement_shows_stripes_fee_from_the_balance_transaction_not_the_rule(
    client, merchant, stripe_test_account, stripe_stub, rule
):
    payment_request = paid_request(client, merchant, stripe_stub)

    line = only_line(payment_request)
    assert (line["fee"], line["fee_source"], line["net"]) == (
        STRIPE_FEE,
        "provider",
        2500 - STRIPE_FEE,
    )
    assert line["fee_note"] == ""
    # The statement announced is the same, and the capture's ledger row keeps the fee.
    statement = Reconciliation.objects.get(request=payment_request)
    assert statement.lines[0]["fee"] == STRIPE_FEE and statement.totals["fee"] == STRIPE_FEE
    capture = LegOperation.objects.get(operation="capture")
    assert (capture.fee, capture.fee_note) == (STRIPE_FEE, "")
    books = stripe_stub.account(STRIPE_TEST_KEY)
    (charge,) = books.charges.values()
    transaction = books.balance_transactions[charge["balance_transaction"]]
    assert transaction["fee_details"][0]["type"] == "stripe_fee"
    assert transaction["fee"] == STRIPE_FEE


def test_with_no_balance_transaction_yet_the_rule_applies_and_the_line_says_so(
    client, merchant, stripe_test_account, stripe_stub, rule
):
    stripe_stub.balance_transaction_pending = True
    payment_request = paid_request(client, merchant, stripe_stub)

    line = only_line(payment_request)
    assert (line["fee"], line["fee_source"]) == (RULE_FEE, "rule")
    assert "not reported its fee yet" in line["fee_note"]
    assert LegOperation.objects.get(operation="capture").fee is None


def test_a_fee_in_the_accounts_settlement_currency_is_not_mixed_into_the_statement(
    client, merchant, stripe_test_account, stripe_stub, rule
):
    stripe_stub.settlement_currency = "gbp"
    payment_request = paid_request(client, merchant, stripe_stub)

    line = only_line(payment_request)
    assert (line["fee"], line["fee_source"]) == (RULE_FEE, "rule")
    assert "GBP" in line["fee_note"]


def test_the_back_office_statement_says_where_each_fee_comes_from(
    client, merchant, stripe_test_account, stripe_stub, rule
):
    payment_request = paid_request(client, merchant, stripe_stub)
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)

    page = client.get(f"/app/requests/{payment_request.public_id}/reconciliation/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "€0.63" in html and 'data-testid="fee-source"' in html
    assert 'data-testid="line-card"' in html and "Visa •••• 4242" in html


def test_a_refund_reads_its_balance_transaction_and_keeps_the_fee_stripe_kept(
    client, merchant, stripe_test_account, stripe_stub, rule
):
    payment_request = paid_request(client, merchant, stripe_stub)
    participant = payment_request.participants.get()

    services.payment_request_refund(
        payment_request=payment_request, lines=[services.RefundLine(participant, 1000)]
    )

    (call,) = stripe_stub.calls("POST", "refunds")
    assert call["params"]["expand"] == ["balance_transaction"]
    refund = LegOperation.objects.get(operation="refund", result="succeeded")
    assert refund.fee == 0  # Stripe gives none of its fee back, and takes none more
    latest = Reconciliation.objects.filter(request=payment_request).order_by("-version").first()
    assert latest.version == 2
    line = latest.lines[0]
    assert (line["amount_refunded"], line["fee"], line["fee_source"]) == (
        1000,
        STRIPE_FEE,
        "provider",
    )
    assert Leg.objects.get().amount_refunded == 1000


def test_a_sandbox_card_still_takes_the_merchants_rule(merchant, rule, tokenise):
    payment_request = make_request(
        merchant,
        total_amount=2500,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=2500)],
    )
    services.checkout_start(
        participant=payment_request.participants.get(), method="card", source=tokenise()
    )

    line = only_line(payment_request)
    assert (line["fee"], line["fee_source"], line["fee_note"]) == (RULE_FEE, "rule", "")
