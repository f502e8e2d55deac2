"""The holiday-voucher sandbox (modelled on ANCV Connect): documented beneficiaries, a
balance per merchant and mode, holds, captures, voids, refunds re-credited to the account,
and the balance endpoint that serves test mode only."""

import pytest
from rest_framework.test import APIClient

from payments import services
from payments.adapters.base import PaymentStatus, ProviderTimeout
from payments.models import LegOperation, SandboxVoucherEntry
from payments.registry import adapter_for
from payments.sandbox import vouchers
from pushpay.errors import DoesNotExist, InvalidInput, StateConflict
from tests.factories import api_secret_for, make_request

FIFTY = "1000000050"
EMPTY = "1000000000"
TIMES_OUT = "1000009999"


@pytest.fixture
def adapter(merchant):
    return adapter_for(merchant=merchant, method="holiday_voucher", livemode=False)


def balance(merchant, number=FIFTY):
    return vouchers.voucher_balance(merchant=merchant, number=number)


def authorise(adapter, amount=3000, number=FIFTY, key="k1"):
    return adapter.authorise(amount=amount, currency="EUR", source=number, idempotency_key=key)


@pytest.mark.django_db
def test_accounts_open_at_their_documented_balance(merchant):
    assert balance(merchant).available == 5000
    assert balance(merchant, EMPTY).available == 0
    assert balance(merchant, "1000 0000 50").available == 5000  # spaces as printed on vouchers


@pytest.mark.django_db
def test_hold_capture_and_refund_move_the_balance_and_a_refund_recredits_the_account(
    merchant, adapter
):
    held = authorise(adapter)
    assert held.status == PaymentStatus.AUTHORISED
    assert (balance(merchant).available, balance(merchant).held) == (2000, 3000)

    captured = adapter.capture(reference=held.provider_reference, amount=3000, idempotency_key="c")
    assert (captured.status, captured.amount) == (PaymentStatus.CAPTURED, 3000)
    assert captured.operation_reference.startswith("ve_")
    state = balance(merchant)
    assert (state.available, state.held, state.spent) == (2000, 0, 3000)

    refunded = adapter.refund(reference=held.provider_reference, amount=1000, idempotency_key="r")
    assert refunded.status == PaymentStatus.REFUNDED
    state = balance(merchant)
    assert (state.available, state.spent) == (3000, 2000)
    with pytest.raises(StateConflict) as exc:
        adapter.refund(reference=held.provider_reference, amount=2001, idempotency_key="r2")
    assert exc.value.code == "refund_exceeds_debit"


@pytest.mark.django_db
def test_a_void_gives_the_hold_back_and_voiding_twice_is_harmless(merchant, adapter):
    held = authorise(adapter, amount=5000)
    assert balance(merchant).available == 0
    adapter.void(reference=held.provider_reference, idempotency_key="v")
    adapter.void(reference=held.provider_reference, idempotency_key="v2")
    assert (balance(merchant).available, balance(merchant).held) == (5000, 0)
    with pytest.raises(StateConflict):
        adapter.capture(reference=held.provider_reference, amount=1, idempotency_key="c")


@pytest.mark.django_db
def test_more_than_the_balance_is_refused_and_holds_nothing(merchant, adapter):
    refused = authorise(adapter, amount=5001)
    assert (refused.status, refused.failure_reason) == ("failed", "insufficient_funds")
    assert authorise(adapter, amount=1, number=EMPTY, key="k2").status == "failed"
    assert balance(merchant).available == 5000


@pytest.mark.django_db
def test_replays_with_the_same_key_move_nothing_and_a_reused_key_is_refused(merchant, adapter):
    first = authorise(adapter)
    again = authorise(adapter)
    assert again.provider_reference == first.provider_reference
    assert balance(merchant).available == 2000
    ref = first.provider_reference
    adapter.capture(reference=ref, amount=1000, idempotency_key="c")
    adapter.capture(reference=ref, amount=1000, idempotency_key="c")
    assert balance(merchant).spent == 1000
    with pytest.raises(StateConflict) as exc:
        authorise(adapter, amount=4000)  # same key, other amount
    assert exc.value.code == "idempotency_key_reused"
    with pytest.raises(StateConflict):
        adapter.capture(reference=ref, amount=2001, idempotency_key="c3")  # more than held


@pytest.mark.django_db
def test_the_timeout_beneficiary_holds_then_loses_the_answer_and_a_replay_finds_it(
    merchant, adapter
):
    with pytest.raises(ProviderTimeout):
        authorise(adapter, number=TIMES_OUT)
    assert balance(merchant, TIMES_OUT).held == 3000
    replay = authorise(adapter, number=TIMES_OUT)
    assert replay.status == PaymentStatus.AUTHORISED
    assert balance(merchant, TIMES_OUT).held == 3000  # one hold, however often asked
    adapter.void(reference=replay.provider_reference, idempotency_key="v")
    assert balance(merchant, TIMES_OUT).held == 0


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("1234567890", "unknown_beneficiary"),
        ("12345", "invalid_beneficiary_number"),
        ("10000000\uff150", "invalid_beneficiary_number"),  # a full-width digit
        ("x" * 10_000, "invalid_beneficiary_number"),
        ("", "invalid_beneficiary_number"),
    ],
)
@pytest.mark.django_db
def test_unknown_and_malformed_beneficiaries_are_clear_errors(adapter, number, code):
    with pytest.raises((InvalidInput, DoesNotExist)) as exc:
        authorise(adapter, number=number)
    assert exc.value.code == code
    assert not SandboxVoucherEntry.objects.exists()


@pytest.mark.django_db
def test_vouchers_pay_in_euros_only(adapter):
    with pytest.raises(InvalidInput) as exc:
        adapter.authorise(amount=100, currency="GBP", source=FIFTY, idempotency_key="k")
    assert exc.value.code == "currency_not_accepted"


@pytest.mark.django_db
def test_balances_are_kept_per_merchant(merchant, other_merchant, adapter):
    authorise(adapter, amount=5000)
    assert balance(merchant).available == 0
    assert balance(other_merchant).available == 5000
    other = adapter_for(merchant=other_merchant, method="holiday_voucher", livemode=False)
    held = authorise(other, amount=100)
    with pytest.raises(DoesNotExist):  # another merchant's hold is not found, not captured
        adapter.capture(reference=held.provider_reference, amount=100, idempotency_key="c")


@pytest.mark.django_db
def test_a_voucher_checkout_pays_a_share_and_writes_its_ledger(merchant):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payer = make_request(merchant).participants.first()
    checkout = services.checkout_start(participant=payer, method="holiday_voucher", source=FIFTY)
    assert checkout.status == "succeeded"
    leg = checkout.legs.get()
    assert leg.source_last4 == "0050"
    assert [op.operation for op in LegOperation.objects.filter(leg=leg)] == [
        "authorise",
        "capture",
    ]
    assert (balance(merchant).available, balance(merchant).spent) == (4000, 1000)
    payer.refresh_from_db()
    assert payer.status == "paid"


@pytest.mark.django_db
def test_an_unknown_beneficiary_fails_the_checkout_cleanly(merchant):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payer = make_request(merchant).participants.first()
    checkout = services.checkout_start(
        participant=payer, method="holiday_voucher", source="1234567890"
    )
    assert (checkout.status, checkout.failure_reason) == ("failed", "not_accepted")
    assert "beneficiary number" in checkout.failure_message


@pytest.mark.django_db
def test_vouchers_are_off_until_the_merchant_enables_them(merchant):
    payer = make_request(merchant).participants.first()
    with pytest.raises(InvalidInput) as exc:
        services.checkout_start(participant=payer, method="holiday_voucher", source=FIFTY)
    assert exc.value.code == "payment_method_not_allowed"


@pytest.mark.django_db
def test_vouchers_have_no_live_adapter(merchant):
    with pytest.raises(InvalidInput) as exc:
        adapter_for(merchant=merchant, method="holiday_voucher", livemode=True)
    assert exc.value.code == "payment_method_unavailable"


URL = "/sandbox/holiday-vouchers/"


@pytest.mark.django_db
def test_the_balance_endpoint_answers_a_test_key(api, merchant, adapter):
    authorise(adapter, amount=1250)
    response = api.get(URL + FIFTY)
    assert response.status_code == 200
    assert response.json() == {
        "number": FIFTY,
        "available": 3750,
        "held": 1250,
        "spent": 0,
        "currency": "EUR",
        "livemode": False,
    }


@pytest.mark.django_db
def test_the_balance_endpoint_refuses_live_keys_strangers_and_bad_numbers(merchant, api):
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    response = live.get(URL + FIFTY)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "sandbox_test_mode_only"
    assert APIClient().get(URL + FIFTY).status_code == 401
    unknown = api.get(URL + "1234567890")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_beneficiary")
    for bad in ("12", "a" * 5000, "1000000050%20%20x"):
        response = api.get(URL + bad)
        assert response.status_code in (404, 422), bad
        assert "error" in response.json()


@pytest.mark.django_db
def test_the_adapter_tells_the_balance_a_payer_can_use(merchant, adapter):
    assert adapter.has_balance and adapter.authorises_in_place
    authorise(adapter, amount=1200)
    assert adapter.balance(source=FIFTY, currency="EUR") == 3800
    assert adapter.balance(source=FIFTY, currency="GBP") == 0
    with pytest.raises(InvalidInput) as exc:
        adapter.balance(source="1234567890", currency="EUR")
    assert exc.value.code == "unknown_beneficiary"
    with pytest.raises(InvalidInput):
        adapter.balance(source="12", currency="EUR")
