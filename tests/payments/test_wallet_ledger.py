"""The wallet's ledger rules: oldest credit spent first, a release goes back to the credits
it came from (an expired one then expires), a refund keeps the spent credit's expiry, and
the expiry job is installed."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import module_loading, timezone

from payments.wallet import services as wallet_services
from payments.wallet.models import WalletLot
from pushpay.schedules import SCHEDULES


@pytest.fixture
def wallet(merchant):
    return wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="ann@example.com"
    )


def lots(wallet):
    return list(
        WalletLot.objects.filter(wallet=wallet).order_by("id").values_list("remaining", flat=True)
    )


def hold(wallet, amount, key):
    return wallet_services.wallet_hold(
        wallet=wallet, amount=amount, currency="EUR", idempotency_key=key
    )


def books(wallet):
    wallet.refresh_from_db()
    assert wallet_services.wallet_consistency_errors(wallet=wallet) == []
    return wallet.balance, wallet.held


@pytest.mark.django_db
def test_the_oldest_credit_is_spent_first(merchant, wallet):
    soon = timezone.now() + timedelta(days=2)
    wallet_services.wallet_credit(wallet=wallet, amount=300)
    wallet_services.wallet_credit(wallet=wallet, amount=500, expires_at=soon)

    hold(wallet, 400, "h1")

    assert lots(wallet) == [0, 400]
    assert books(wallet) == (400, 400)


@pytest.mark.django_db
def test_a_partial_capture_then_a_release_puts_the_rest_back_where_it_came_from(merchant, wallet):
    wallet_services.wallet_credit(wallet=wallet, amount=300)
    wallet_services.wallet_credit(wallet=wallet, amount=500)
    held = hold(wallet, 700, "h1")
    wallet_services.wallet_capture(
        merchant=merchant, reference=held.public_id, amount=250, idempotency_key="c1"
    )

    wallet_services.wallet_release(
        merchant=merchant, reference=held.public_id, idempotency_key="v1"
    )

    # 250 taken from the oldest credit; the 450 released goes back to the newest first.
    assert lots(wallet) == [50, 500]
    assert books(wallet) == (550, 0)
    held.refresh_from_db()
    assert (held.status, held.amount_captured, held.amount_released) == ("captured", 250, 450)
    with pytest.raises(wallet_services.StateConflict) as nothing_held:
        wallet_services.wallet_release(
            merchant=merchant, reference=held.public_id, idempotency_key="v2"
        )
    assert nothing_held.value.code == "not_voidable"
    replay = wallet_services.wallet_release(
        merchant=merchant, reference=held.public_id, idempotency_key="v1"
    )
    assert replay.entry.amount == 450
    assert books(wallet) == (550, 0)


@pytest.mark.django_db
def test_a_hold_released_after_its_credit_expired_lets_the_credit_expire(merchant, wallet):
    wallet_services.wallet_credit(
        wallet=wallet, amount=500, expires_at=timezone.now() + timedelta(days=1)
    )
    held = hold(wallet, 500, "h1")
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert wallet_services.wallets_expire_due() == 0  # all of it is held, nothing left
        wallet_services.wallet_release(
            merchant=merchant, reference=held.public_id, idempotency_key="v1"
        )
        assert wallet_services.wallet_spendable(wallet=wallet) == 0
        assert wallet_services.wallets_expire_due() == 1
    assert books(wallet) == (0, 0)


@pytest.mark.django_db
def test_a_refund_re_credits_with_the_spent_credits_expiry(merchant, wallet):
    expiry = timezone.now() + timedelta(days=10)
    wallet_services.wallet_credit(wallet=wallet, amount=500, expires_at=expiry)
    held = hold(wallet, 500, "h1")
    wallet_services.wallet_capture(
        merchant=merchant, reference=held.public_id, amount=500, idempotency_key="c1"
    )

    movement = wallet_services.wallet_refund(
        merchant=merchant, reference=held.public_id, amount=200, idempotency_key="r1"
    )

    assert movement.entry.lot.expires_at == expiry
    assert books(wallet) == (200, 0)
    with pytest.raises(wallet_services.StateConflict) as too_much:
        wallet_services.wallet_refund(
            merchant=merchant, reference=held.public_id, amount=301, idempotency_key="r2"
        )
    assert too_much.value.code == "refund_exceeds_debit"
    assert books(wallet) == (200, 0)


@pytest.mark.django_db
def test_another_merchant_cannot_move_a_wallet_hold(merchant, other_merchant, wallet):
    wallet_services.wallet_credit(wallet=wallet, amount=500)
    held = hold(wallet, 500, "h1")
    with pytest.raises(wallet_services.DoesNotExist):
        wallet_services.wallet_capture(
            merchant=other_merchant, reference=held.public_id, amount=500, idempotency_key="c1"
        )
    assert books(wallet) == (0, 500)


def test_the_expiry_job_is_installed_and_importable():
    spec = next(s for s in SCHEDULES if s["name"] == "expire-wallet-credits")
    assert callable(module_loading.import_string(spec["func"]))
