"""Reads of wallets, always scoped to one merchant and one mode."""

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from merchants.models import Merchant

from .models import CashbackRule, Wallet, WalletHold, WalletLot, WalletPosting, WalletTransaction

MAX_ENTRIES = 200  # the detail shows the newest entries; an export reads them all


def wallet_get(*, merchant: Merchant, livemode: bool, public_id: object) -> Wallet | None:
    if not isinstance(public_id, str) or not public_id.startswith("wal_"):
        return None
    return Wallet.objects.filter(merchant=merchant, livemode=livemode, public_id=public_id).first()


def wallet_list(
    *, merchant: Merchant, livemode: bool, holder_email: str = "", holder_phone: str = ""
) -> QuerySet[Wallet]:
    """Newest first; ``holder_email``/``holder_phone`` as the wallet stores them (lower-cased
    email, E.164 phone)."""
    rows = Wallet.objects.filter(merchant=merchant, livemode=livemode)
    if holder_email:
        rows = rows.filter(holder_email=holder_email)
    if holder_phone:
        rows = rows.filter(holder_phone=holder_phone)
    return rows.order_by("-created_at", "-id")


def wallet_entries(*, wallet: Wallet, limit: int = MAX_ENTRIES) -> list[WalletTransaction]:
    """The wallet's newest ledger entries, each with its postings, newest first."""
    return list(
        WalletTransaction.objects.filter(wallet=wallet)
        .select_related("hold")
        .prefetch_related(Prefetch("postings", queryset=WalletPosting.objects.order_by("id")))
        .order_by("-created_at", "-id")[:limit]
    )


def wallet_hold_get(*, merchant: Merchant, reference: str) -> WalletHold | None:
    if not isinstance(reference, str):
        return None
    return WalletHold.objects.filter(merchant=merchant, public_id=reference).first()


def wallets_spendable(*, wallets: list[Wallet], now: datetime | None = None) -> dict[int, int]:
    """What each wallet can spend now (unexpired credit left), by wallet pk, in one query:
    a list page never asks once per wallet."""
    now = now or timezone.now()
    totals = {wallet.pk: 0 for wallet in wallets}
    rows = (
        WalletLot.objects.filter(wallet_id__in=list(totals), remaining__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values("wallet_id")
        .annotate(total=Sum("remaining"))
        .order_by()
    )
    for row in rows:
        totals[row["wallet_id"]] = row["total"]
    return totals


def cashback_rule_get(*, merchant: Merchant) -> CashbackRule | None:
    return CashbackRule.objects.filter(merchant=merchant).first()
