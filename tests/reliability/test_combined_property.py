"""A payer is never partially debited, whatever happens (ARCHITECTURE.md guarantee 2).

Hypothesis draws combined payments (holiday vouchers, card, PayPal, in any mix and split),
an outcome for every leg (approved, declined, timeout, 3-D Secure refused, PayPal cancelled,
abandoned on the provider's page) and a crash point (the process dies at the n-th call of
one of the saga's steps). Once the abandoned-checkout job and recovery have run, the payer
has been debited exactly nothing or exactly the share across every sandbox ledger, the
booking says the same, and no hold is left anywhere.
"""

import itertools
from contextlib import ExitStack, suppress
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import services
from payments.models import Checkout, Leg, SandboxLedgerEntry, SandboxPayPalOrder
from payments.sandbox import vouchers
from payments.sandbox.paypal import sandbox_paypal_order_decide
from payments.sandbox.paypal_selectors import sandbox_paypal_balance
from payments.sandbox.services import sandbox_card_tokenise, sandbox_challenge_decide
from payments.services import LegRequest, saga
from payments.tasks import recover_stale_checkouts
from tests.factories import MerchantFactory, make_request, participants

SHARE = 8000
CARDS = {
    "approve": "4242424242424242",
    "decline": "4000000000000002",
    "insufficient": "4000000000009995",
    "challenge": "4000000000003220",
    "timeout": "4000000000000119",
}
VOUCHERS = ["1000000050", "1000000000", "1000009999"]
PAYPAL_SOURCES = ["paypal", "paypal-timeout", "paypal-denied"]
PAGE_ANSWERS = ["approve", "refuse", "abandon"]
CRASH_POINTS = ["_remember_source", "_apply", "_capture", "_void", "_book", "_refund_whole"]


class Crash(BaseException):
    """The process dies: not an Exception, so nothing on the way catches it."""


@st.composite
def payments(draw):
    methods = draw(
        st.lists(
            st.sampled_from(["holiday_voucher", "card", "paypal"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    if len(methods) == 1:
        amounts = [SHARE]
    else:
        cuts = sorted(
            draw(
                st.lists(
                    st.integers(1, SHARE - 1),
                    min_size=len(methods) - 1,
                    max_size=len(methods) - 1,
                    unique=True,
                )
            )
        )
        bounds = [0, *cuts, SHARE]
        amounts = [b - a for a, b in itertools.pairwise(bounds)]
    legs = []
    for method, amount in zip(methods, amounts, strict=True):
        if method == "card":
            source = draw(st.sampled_from(sorted(CARDS)))
        elif method == "holiday_voucher":
            source = draw(st.sampled_from(VOUCHERS))
        else:
            source = draw(st.sampled_from(PAYPAL_SOURCES))
        legs.append((method, source, amount))
    answers = draw(st.lists(st.sampled_from(PAGE_ANSWERS), min_size=3, max_size=3))
    crash = draw(
        st.none() | st.tuples(st.sampled_from(CRASH_POINTS), st.integers(min_value=1, max_value=3))
    )
    return legs, answers, crash


def _crashing(name: str, nth: int):
    real = getattr(saga, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth:
            raise Crash
        return real(*args, **kwargs)

    return mock.patch.object(saga, name, wrapper)


def _answer_waiting_leg(checkout: Checkout, answer: str) -> bool:
    """The payer on the provider's page: approve, refuse, or leave (False)."""
    leg = checkout.legs.filter(status=Leg.Status.REQUIRES_ACTION).first()
    if leg is None or answer == "abandon":
        return False
    if leg.method == "card":
        sandbox_challenge_decide(public_id=leg.provider_reference, approve=answer == "approve")
    else:
        sandbox_paypal_order_decide(public_id=leg.provider_reference, approve=answer == "approve")
    return True


def _pay(payer, legs, tokens, answers) -> None:
    checkout = services.checkout_open(
        participant=payer,
        legs=[
            LegRequest(method=m, source=tokens.get(m, source), amount=amount)
            for m, source, amount in legs
        ],
        return_url=lambda co: f"http://testserver/pay/x/return/{co.public_id}/",
    )
    for answer in answers:
        if checkout.status != Checkout.Status.REQUIRES_ACTION:
            return
        if not _answer_waiting_leg(checkout, answer):
            return
        checkout = services.checkout_resume(checkout=Checkout.objects.get(pk=checkout.pk))


def _debited_and_held(merchant, legs, tokens) -> tuple[int, int]:
    debited = held = 0
    for method, source, _ in legs:
        if method == "card":
            # A test number is shared by every example: read this merchant's card books.
            rows = SandboxLedgerEntry.objects.filter(
                merchant=merchant, status=SandboxLedgerEntry.Status.SUCCEEDED
            )
            kind = dict(
                rows.values("kind").annotate(total=Sum("amount")).values_list("kind", "total")
            )
            debited += kind.get("capture", 0) - kind.get("refund", 0)
            held += kind.get("hold", 0) - kind.get("capture", 0) - kind.get("void", 0)
        elif method == "holiday_voucher":
            balance = vouchers.voucher_balance(merchant=merchant, number=source)
            debited, held = debited + balance.spent, held + balance.held
    orders = SandboxPayPalOrder.objects.filter(merchant=merchant).values_list(
        "public_id", flat=True
    )
    paypal = sandbox_paypal_balance(merchant=merchant, references=orders)
    return debited + paypal.debited, held + paypal.held


@pytest.mark.django_db
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=payments())
def test_a_payer_is_debited_nothing_or_exactly_the_share(plan):
    legs, answers, crash = plan
    merchant = MerchantFactory()
    for method in ("holiday_voucher", "paypal"):
        services.payment_method_enable(merchant=merchant, method=method)
    payer = make_request(
        merchant, total_amount=SHARE, participants=participants(1, amount=SHARE)
    ).participants.get()
    tokens = {}
    for method, source, _ in legs:
        if method == "card":
            tokens["card"] = sandbox_card_tokenise(
                number=CARDS[source], exp_month=12, exp_year=timezone.now().year + 3, cvc="123"
            ).token

    with ExitStack() as stack:
        if crash is not None:
            stack.enter_context(_crashing(*crash))
        with suppress(Crash):
            _pay(payer, legs, tokens, answers)

    # Later: the abandoned-checkout job and recovery run (twice: the second run is a no-op).
    with time_machine.travel(timezone.now() + timedelta(minutes=45)):
        services.checkouts_release_abandoned()
        recover_stale_checkouts()
        recover_stale_checkouts()
        services.checkouts_release_abandoned()

    debited, held = _debited_and_held(merchant, legs, tokens)
    payer.refresh_from_db()
    statuses = sorted(Checkout.objects.filter(participant=payer).values_list("status", flat=True))
    assert held == 0, (plan, statuses)
    assert debited in (0, SHARE), (plan, debited, statuses)
    assert payer.amount_paid == debited, (plan, statuses)
    assert not Checkout.objects.filter(participant=payer, status__in=Checkout.IN_FLIGHT).exists(), (
        plan,
        statuses,
    )
