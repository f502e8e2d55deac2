"""The sandbox PayPal: its adapter contract, its approval page, and a checkout paid with it."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from payments import services
from payments.adapters.base import FailureReason, PaymentStatus, ProviderTimeout
from payments.adapters.sandbox_paypal import SandboxPayPalAdapter
from payments.models import Checkout, Leg, SandboxPayPalLedgerEntry, SandboxPayPalOrder
from payments.registry import adapter_for, payment_method_get, sandbox_owns_source
from payments.sandbox.paypal import sandbox_paypal_order_decide
from payments.sandbox.paypal_selectors import sandbox_paypal_balance
from payments.selectors import payment_methods_enabled
from pushpay.errors import DoesNotExist, InvalidInput, StateConflict
from tests.factories import make_request

pytestmark = pytest.mark.django_db

RETURN_URL = "http://testserver/pay/abc/return/co_1/?step=2"


@pytest.fixture
def paypal(merchant):
    """The PayPal adapter as the checkout gets it, bound to ``merchant``."""
    return adapter_for(merchant=merchant, method="paypal", livemode=False)


@pytest.fixture
def other_paypal(other_merchant):
    return adapter_for(merchant=other_merchant, method="paypal", livemode=False)


def authorise(paypal, amount=4200, key="leg-1-authorise", source="paypal", **kwargs):
    return paypal.authorise(
        amount=amount,
        currency="EUR",
        source=source,
        idempotency_key=key,
        return_url=kwargs.pop("return_url", RETURN_URL),
        **kwargs,
    )


def balance(merchant, *references):
    """(held, debited, currency) from the sandbox PayPal's ledger rows."""
    totals = sandbox_paypal_balance(merchant=merchant, references=references)
    return totals.held, totals.debited, totals.currency


@pytest.fixture
def approved(client, paypal, merchant):
    """An order the payer approved at the approval page; retrieve then authorizes it."""
    result = authorise(paypal)
    assert client.post(result.action_url, {"decision": "approve"}).status_code == 302
    return result.provider_reference


# --- The adapter --------------------------------------------------------------------------


def test_authorise_sends_the_payer_to_the_approval_page_and_holds_nothing(paypal, merchant):
    result = authorise(paypal)

    assert result.status == PaymentStatus.REQUIRES_ACTION
    assert result.provider_reference.startswith("PAY-")
    assert result.action_url == f"http://testserver/sandbox/paypal/{result.provider_reference}/"
    assert (result.amount, result.currency) == (4200, "EUR")
    order = SandboxPayPalOrder.objects.get()
    assert order.status == SandboxPayPalOrder.Status.CREATED
    assert balance(merchant, result.provider_reference)[0] == 0


def test_approved_orders_are_authorised_captured_and_refunded(paypal, merchant, approved):
    retrieved = paypal.retrieve(reference=approved)
    assert (retrieved.status, retrieved.amount) == (PaymentStatus.AUTHORISED, 4200)
    assert balance(merchant, approved) == (4200, 0, "EUR")

    captured = paypal.capture(reference=approved, amount=4200, idempotency_key="leg-1-capture")
    assert (captured.status, captured.amount) == (PaymentStatus.CAPTURED, 4200)
    assert captured.operation_reference.startswith("ppl_")
    assert balance(merchant, approved) == (0, 4200, "EUR")

    refunded = paypal.refund(reference=approved, amount=1200, idempotency_key="leg-1-refund")
    assert (refunded.status, refunded.amount) == (PaymentStatus.REFUNDED, 1200)
    assert balance(merchant, approved) == (0, 3000, "EUR")
    assert paypal.retrieve(reference=approved).status == PaymentStatus.CAPTURED
    paypal.refund(reference=approved, amount=3000, idempotency_key="leg-1-refund-2")
    assert paypal.retrieve(reference=approved).status == PaymentStatus.REFUNDED


def test_retrieving_twice_holds_once(paypal, merchant, approved):
    paypal.retrieve(reference=approved)
    paypal.retrieve(reference=approved)

    assert SandboxPayPalLedgerEntry.objects.filter(kind="hold").count() == 1
    assert balance(merchant, approved)[0] == 4200


def test_a_payer_who_cancels_fails_the_order_and_nothing_is_held(client, paypal, merchant):
    result = authorise(paypal)

    client.post(result.action_url, {"decision": "cancel"})
    retrieved = paypal.retrieve(reference=result.provider_reference)

    assert retrieved.status == PaymentStatus.FAILED
    assert retrieved.failure_reason == FailureReason.AUTHENTICATION_FAILED
    assert retrieved.message == "The payer cancelled at PayPal."
    assert balance(merchant, result.provider_reference) == (0, 0, None)
    assert not SandboxPayPalLedgerEntry.objects.exists()


def test_voiding_releases_what_is_still_held(paypal, merchant, approved):
    paypal.retrieve(reference=approved)
    paypal.capture(reference=approved, amount=1000, idempotency_key="leg-1-capture")

    voided = paypal.void(reference=approved, idempotency_key="leg-1-void")

    assert (voided.status, voided.amount) == (PaymentStatus.CANCELLED, 3200)
    assert balance(merchant, approved) == (0, 1000, "EUR")
    # Something was taken: the order ends captured, and only a refund gives it back.
    assert paypal.retrieve(reference=approved).status == PaymentStatus.CAPTURED


def test_voiding_a_fully_held_order_cancels_it(paypal, merchant, approved):
    paypal.retrieve(reference=approved)

    voided = paypal.void(reference=approved, idempotency_key="leg-1-void")

    assert (voided.status, voided.amount) == (PaymentStatus.CANCELLED, 4200)
    assert paypal.retrieve(reference=approved).status == PaymentStatus.CANCELLED
    assert balance(merchant, approved) == (0, 0, "EUR")


def test_voiding_an_unapproved_order_cancels_it_and_the_payer_can_no_longer_approve(
    client, paypal, merchant
):
    result = authorise(paypal)

    voided = paypal.void(reference=result.provider_reference, idempotency_key="leg-1-void")
    client.post(result.action_url, {"decision": "approve"})

    assert (voided.status, voided.amount) == (PaymentStatus.CANCELLED, 0)
    assert paypal.retrieve(reference=result.provider_reference).status == PaymentStatus.CANCELLED
    assert balance(merchant, result.provider_reference)[0] == 0


def test_voiding_an_order_the_payer_cancelled_changes_nothing(client, paypal):
    result = authorise(paypal)
    client.post(result.action_url, {"decision": "cancel"})

    voided = paypal.void(reference=result.provider_reference, idempotency_key="leg-1-void")

    assert (voided.status, voided.amount) == (PaymentStatus.CANCELLED, 0)
    assert paypal.retrieve(reference=result.provider_reference).status == PaymentStatus.FAILED


def test_replays_with_the_same_key_move_nothing(paypal, merchant, approved):
    replayed = authorise(paypal)
    assert replayed.provider_reference == approved
    assert replayed.status == PaymentStatus.AUTHORISED  # the order as it stands now
    assert SandboxPayPalOrder.objects.count() == 1

    first = paypal.capture(reference=approved, amount=1000, idempotency_key="cap")
    again = paypal.capture(reference=approved, amount=1000, idempotency_key="cap")
    assert again.operation_reference == first.operation_reference
    assert balance(merchant, approved) == (3200, 1000, "EUR")

    refund = paypal.refund(reference=approved, amount=500, idempotency_key="ref")
    assert paypal.refund(reference=approved, amount=500, idempotency_key="ref") == refund
    void = paypal.void(reference=approved, idempotency_key="void")
    assert paypal.void(reference=approved, idempotency_key="void") == void
    assert balance(merchant, approved) == (0, 500, "EUR")
    kinds = list(SandboxPayPalLedgerEntry.objects.values_list("kind", flat=True))
    assert kinds == ["hold", "capture", "refund", "void"]


def test_a_key_reused_with_other_parameters_is_refused_and_records_nothing(
    paypal, merchant, approved
):
    paypal.retrieve(reference=approved)
    paypal.capture(reference=approved, amount=1000, idempotency_key="cap")

    with pytest.raises(StateConflict) as other_order:
        authorise(paypal, amount=999)
    with pytest.raises(StateConflict) as other_amount:
        paypal.capture(reference=approved, amount=2000, idempotency_key="cap")

    assert other_order.value.code == other_amount.value.code == "idempotency_key_reused"
    assert SandboxPayPalOrder.objects.count() == 1
    assert balance(merchant, approved) == (3200, 1000, "EUR")


@pytest.mark.parametrize(
    ("move", "code"),
    [
        (lambda p, ref: p.capture(reference=ref, amount=4201, idempotency_key="c"), "capture"),
        (lambda p, ref: p.refund(reference=ref, amount=1, idempotency_key="r"), "refund"),
    ],
)
def test_taking_or_giving_back_more_than_there_is_is_a_state_conflict(
    paypal, merchant, approved, move, code
):
    paypal.retrieve(reference=approved)

    with pytest.raises(StateConflict) as refused:
        move(paypal, approved)

    assert refused.value.code == f"{code}_exceeds_{'hold' if code == 'capture' else 'debit'}"
    assert SandboxPayPalLedgerEntry.objects.filter(kind=code).count() == 0
    assert balance(merchant, approved) == (4200, 0, "EUR")


def test_capturing_after_a_void_or_before_approval_is_a_state_conflict(paypal, approved):
    unapproved = authorise(paypal, key="leg-2-authorise")
    with pytest.raises(StateConflict) as too_early:
        paypal.capture(reference=unapproved.provider_reference, amount=1, idempotency_key="c1")
    paypal.retrieve(reference=approved)
    paypal.void(reference=approved, idempotency_key="v")

    with pytest.raises(StateConflict) as after_void:
        paypal.capture(reference=approved, amount=100, idempotency_key="c2")

    assert too_early.value.code == after_void.value.code == "not_capturable"
    assert not SandboxPayPalLedgerEntry.objects.filter(kind="capture").exists()


def test_another_merchants_order_is_not_found(paypal, other_paypal, approved):
    calls = [
        lambda: other_paypal.retrieve(reference=approved),
        lambda: other_paypal.capture(reference=approved, amount=1, idempotency_key="c"),
        lambda: other_paypal.void(reference=approved, idempotency_key="v"),
        lambda: other_paypal.refund(reference=approved, amount=1, idempotency_key="r"),
    ]
    for call in calls:
        with pytest.raises(DoesNotExist) as missing:
            call()
        assert (missing.value.code, missing.value.field) == ("not_found", "reference")
    assert paypal.retrieve(reference=approved).status == PaymentStatus.AUTHORISED


def test_an_authorization_paypal_denies_fails_as_declined(client, paypal, merchant):
    result = authorise(paypal, source="paypal-denied")
    client.post(result.action_url, {"decision": "approve"})

    retrieved = paypal.retrieve(reference=result.provider_reference)

    assert (retrieved.status, retrieved.failure_reason) == (
        PaymentStatus.FAILED,
        FailureReason.DECLINED,
    )
    assert balance(merchant, result.provider_reference)[0] == 0
    assert SandboxPayPalLedgerEntry.objects.get().status == "failed"


def test_a_lost_answer_is_a_timeout_and_the_retry_finds_the_single_order(paypal):
    with pytest.raises(ProviderTimeout):
        authorise(paypal, source="paypal-timeout")

    retried = authorise(paypal, source="paypal-timeout")

    assert retried.status == PaymentStatus.REQUIRES_ACTION
    assert SandboxPayPalOrder.objects.get().public_id == retried.provider_reference


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"source": "tok_card"}, "unknown_source"),
        ({"source": ""}, "unknown_source"),
        ({"amount": 0}, "invalid_amount"),
        ({"amount": 10**14}, "amount_too_large"),
        ({"key": ""}, "invalid_idempotency_key"),
        ({"key": "k" * 256}, "invalid_idempotency_key"),
        ({"return_url": "javascript:alert(1)"}, "invalid_return_url"),
    ],
)
def test_bad_input_is_a_clear_error_and_creates_nothing(paypal, overrides, code):
    with pytest.raises(InvalidInput) as refused:
        authorise(paypal, **overrides)

    assert refused.value.code == code
    assert not SandboxPayPalOrder.objects.exists()


def test_the_plain_paypal_source_is_no_sandbox_token_but_the_scenarios_are():
    assert not sandbox_owns_source("paypal")  # the real PayPal adapter will take it too
    assert sandbox_owns_source("paypal-timeout") and sandbox_owns_source("paypal-denied")


# --- Registration and modes ---------------------------------------------------------------


def test_paypal_is_registered_off_by_default_with_no_live_adapter(merchant):
    method = payment_method_get("paypal")

    assert (method.label, method.adapter_class, method.live_adapter_class) == (
        "PayPal",
        SandboxPayPalAdapter,
        None,
    )
    assert "paypal" not in payment_methods_enabled(merchant=merchant)
    services.payment_method_enable(merchant=merchant, method="paypal")
    assert payment_methods_enabled(merchant=merchant) == ["card", "paypal"]


def test_a_live_request_cannot_use_paypal(merchant, live_cards):
    services.payment_method_enable(merchant=merchant, method="paypal")
    payer = make_request(merchant, livemode=True).participants.first()

    with pytest.raises(InvalidInput) as refused:
        services.checkout_start(participant=payer, method="paypal", source="paypal")
    with pytest.raises(InvalidInput) as live_adapter:
        adapter_for(merchant=merchant, method="paypal", livemode=True)
    with pytest.raises(ImproperlyConfigured):
        SandboxPayPalAdapter(merchant=merchant, livemode=True)

    assert refused.value.code == live_adapter.value.code == "payment_method_unavailable"
    assert not Leg.objects.exists() and not SandboxPayPalOrder.objects.exists()


def test_a_sandbox_paypal_scenario_cannot_pay_a_live_card_request(merchant, live_cards):
    payer = make_request(merchant, livemode=True).participants.first()

    with pytest.raises(InvalidInput) as refused:
        services.checkout_start(participant=payer, method="card", source="paypal-timeout")

    assert refused.value.code == "test_source_in_live_mode"
    assert live_cards.calls == [] and not Leg.objects.exists()


# --- The approval page --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "amount", "approve", "cancel", "html_lang"),
    [
        ("en", "€42.00", "Approve", "Cancel", "en"),
        ("fr", "42,00\xa0€", "Approuver", "Annuler", "fr"),
    ],
)
def test_the_approval_page_shows_the_amount_and_both_buttons_in_the_payers_language(
    client, paypal, lang, amount, approve, cancel, html_lang
):
    result = authorise(paypal)

    page = client.get(f"{result.action_url}?lang={lang}")

    assert page.status_code == 200
    html = page.content.decode()
    assert f'<html lang="{html_lang}">' in html
    assert amount in html
    assert f'value="approve" class="btn btn-primary flex-fill">{approve}<' in html
    assert f'value="cancel" class="btn btn-outline-secondary flex-fill">{cancel}<' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "<h1" in html and 'aria-labelledby="paypal-heading"' in html


@pytest.mark.parametrize("decision", ["approve", "cancel"])
def test_deciding_sends_the_payer_back_with_the_order_id_only(client, paypal, decision):
    result = authorise(paypal)

    response = client.post(result.action_url, {"decision": decision})

    assert response.status_code == 302
    assert response["Location"] == f"{RETURN_URL}&reference={result.provider_reference}"


def test_a_second_answer_does_not_flip_the_first(client, paypal, approved):
    response = client.post(f"/sandbox/paypal/{approved}/", {"decision": "cancel"})

    assert response.status_code == 302
    assert paypal.retrieve(reference=approved).status == PaymentStatus.AUTHORISED
    page = client.get(f"/sandbox/paypal/{approved}/?lang=fr").content.decode()
    assert "Cette commande PayPal est terminée (approuvée)." in page
    assert 'value="approve"' not in page


@pytest.mark.parametrize("decision", ["maybe", "", "APPROVE"])
def test_an_unknown_decision_is_refused_and_changes_nothing(client, paypal, decision):
    result = authorise(paypal)

    response = client.post(f"{result.action_url}?lang=fr", {"decision": decision})

    assert response.status_code == 400
    assert response.content.decode() == "Choisissez Approuver ou Annuler."
    assert paypal.retrieve(reference=result.provider_reference).status == (
        PaymentStatus.REQUIRES_ACTION
    )


@pytest.mark.parametrize("order_id", ["PAY-doesnotexist", "x", "auth_" + "A" * 24])
def test_an_unknown_order_is_a_404(client, order_id):
    assert client.get(f"/sandbox/paypal/{order_id}/").status_code == 404
    assert client.post(f"/sandbox/paypal/{order_id}/", {"decision": "approve"}).status_code == 404


def test_the_approval_page_needs_a_csrf_token_to_approve(paypal):
    result = authorise(paypal)
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(result.action_url, {"decision": "approve"})

    assert response.status_code == 403
    assert SandboxPayPalOrder.objects.get().status == SandboxPayPalOrder.Status.CREATED


def test_with_its_csrf_token_the_approval_page_approves(paypal):
    result = authorise(paypal)
    browser = Client(enforce_csrf_checks=True)
    browser.get(result.action_url)

    response = browser.post(
        result.action_url,
        {"decision": "approve", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    )

    assert response.status_code == 302
    assert SandboxPayPalOrder.objects.get().status == SandboxPayPalOrder.Status.APPROVED


def test_without_a_return_url_the_payer_stays_on_a_finished_page(client, paypal):
    result = authorise(paypal, return_url="")

    response = client.post(f"{result.action_url}?lang=en", {"decision": "approve"})

    assert response.status_code == 200
    assert "You can close this page" in response.content.decode()


def test_the_approval_page_reads_the_database_once(client, paypal, django_assert_num_queries):
    result = authorise(paypal)

    with django_assert_num_queries(1):
        assert client.get(result.action_url).status_code == 200


# --- A checkout paid with PayPal ----------------------------------------------------------


@pytest.fixture
def payer(merchant):
    services.payment_method_enable(merchant=merchant, method="paypal")
    return make_request(merchant).participants.first()


def start(payer):
    return services.checkout_start(
        participant=payer,
        method="paypal",
        source="paypal",
        return_url=lambda co: f"http://testserver/pay/{payer.link_token}/return/{co.public_id}/",
    )


def test_a_checkout_paid_with_paypal_takes_the_share_once_the_payer_approves(
    client, merchant, payer
):
    checkout = start(payer)
    leg = checkout.legs.get()
    assert checkout.status == Checkout.Status.REQUIRES_ACTION
    assert (leg.status, leg.source_brand) == (Leg.Status.REQUIRES_ACTION, "PayPal")
    assert leg.action_url.startswith("http://testserver/sandbox/paypal/PAY-")

    back = client.post(leg.action_url, {"decision": "approve"})
    assert back["Location"].endswith(
        f"/return/{checkout.public_id}/?reference={leg.provider_reference}"
    )
    checkout = services.checkout_resume(checkout=checkout)

    assert checkout.status == Checkout.Status.SUCCEEDED
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 1000)
    assert balance(merchant, leg.provider_reference) == (0, 1000, "EUR")


def test_the_payer_back_from_paypal_lands_on_the_receipt(client, merchant, payer):
    checkout = start(payer)
    leg = checkout.legs.get()

    back = client.post(f"{leg.action_url}?lang=fr", {"decision": "approve"})
    landing = client.get(back["Location"].removeprefix("http://testserver"))

    assert landing.status_code == 302
    assert f"/receipt/{checkout.public_id}/" in landing["Location"]
    assert Checkout.objects.get().status == Checkout.Status.SUCCEEDED


def test_a_payer_who_cancels_at_paypal_pays_nothing_and_can_try_again(client, merchant, payer):
    checkout = start(payer)
    leg = checkout.legs.get()

    client.post(leg.action_url, {"decision": "cancel"})
    checkout = services.checkout_resume(checkout=checkout)

    assert (checkout.status, checkout.failure_reason) == ("failed", "authentication_failed")
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("failed", 0)
    assert balance(merchant, leg.provider_reference) == (0, 0, None)
    again = start(payer)
    assert again.status == Checkout.Status.REQUIRES_ACTION


def test_a_payer_who_starts_again_has_the_unapproved_order_voided(merchant, payer):
    first = start(payer)

    start(payer)

    first.refresh_from_db()
    assert first.status == Checkout.Status.CANCELLED
    order = SandboxPayPalOrder.objects.get(public_id=first.legs.get().provider_reference)
    assert order.status == SandboxPayPalOrder.Status.VOIDED


def test_a_lost_paypal_answer_fails_the_checkout_and_leaves_nothing_held(merchant, payer):
    checkout = services.checkout_start(participant=payer, method="paypal", source="paypal-timeout")

    assert (checkout.status, checkout.failure_reason) == ("failed", "provider_error")
    order = SandboxPayPalOrder.objects.get()
    assert order.status == SandboxPayPalOrder.Status.VOIDED
    payer.refresh_from_db()
    assert payer.amount_paid == 0


# --- Concurrency (PostgreSQL row locks) ---------------------------------------------------


def _race(calls) -> list[str]:
    """Run ``calls`` at the same moment, each on its own connection; their outcomes."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call) -> None:
        try:
            barrier.wait()
            call()
            outcome = "done"
        except StateConflict as refused:
            outcome = refused.code
        except Exception as crash:  # surfaced by the callers' assertions
            outcome = repr(crash)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=run, args=(call,)) for call in calls]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_full_captures_of_one_paypal_order_debit_it_once(
    postgres_only, merchant, paypal, client
):
    reference = authorise(paypal, amount=5000).provider_reference
    client.post(f"/sandbox/paypal/{reference}/", {"decision": "approve"})
    paypal.retrieve(reference=reference)

    outcomes = _race(
        [
            lambda i=i: paypal.capture(reference=reference, amount=5000, idempotency_key=f"c{i}")
            for i in range(10)
        ]
    )

    assert outcomes.count("done") == 1, outcomes
    assert set(outcomes) <= {"done", "not_capturable", "capture_exceeds_hold"}, outcomes
    assert balance(merchant, reference) == (0, 5000, "EUR")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_approval_racing_a_void_never_leaves_money_held(postgres_only, merchant, paypal):
    reference = authorise(paypal).provider_reference

    outcomes = _race(
        [
            lambda: sandbox_paypal_order_decide(public_id=reference, approve=True),
            lambda: paypal.void(reference=reference, idempotency_key="void"),
        ]
    )
    final = paypal.retrieve(reference=reference)

    assert outcomes == ["done", "done"]
    # Whoever won, the order ends voided, or approved and then held (to be voided again).
    if final.status == PaymentStatus.AUTHORISED:
        paypal.void(reference=reference, idempotency_key="void-again")
    assert balance(merchant, reference)[:2] == (0, 0)
