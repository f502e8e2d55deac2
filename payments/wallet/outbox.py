"""The cashback notice: the wallet's kind of outbox row.

Planned in the credit's own transaction (once per credit, by its dedupe key), so a lost task
cannot lose it, and it shows in the merchant's outbox like every other message. Just before
sending, the dispatcher asks ``_prepare`` whether the credit still exists; ``_build``
renders it in the holder's language (French unless the wallet says otherwise).
"""

from django.template.loader import render_to_string
from django.utils import translation

from notifications.channels import OutgoingMessage
from notifications.kinds import OutboxKind, outbox_kind_register
from notifications.models import Dispatch
from notifications.rendering import format_deadline
from notifications.services import outbox_enqueue

from .models import WalletTransaction

KIND = "cashback_credited"


def cashback_notice_plan(*, entry: WalletTransaction) -> bool:
    """Call inside the credit's transaction; a holder known by phone only is told nothing
    by email (their balance shows on the payer page)."""
    wallet = entry.wallet
    if not wallet.holder_email:
        return False
    return outbox_enqueue(
        kind=KIND,
        merchant_id=entry.merchant_id,
        livemode=entry.livemode,
        channel="email",
        recipient=wallet.holder_email,
        language=wallet.language or "fr",
        source_id=entry.public_id,
        dedupe_key=f"cashback:{entry.public_id}",
    )


def _prepare(dispatch: Dispatch) -> str:
    entry = (
        WalletTransaction.objects.select_related("wallet", "merchant")
        .filter(
            public_id=dispatch.source_id,
            merchant_id=dispatch.merchant_id,
            kind=WalletTransaction.Kind.CREDIT,
        )
        .first()
    )
    dispatch.wallet_entry = entry
    return "" if entry is not None else "credit_not_found"


def _build(dispatch: Dispatch) -> OutgoingMessage:
    entry = dispatch.wallet_entry
    wallet, merchant = entry.wallet, entry.merchant
    language = dispatch.language or "fr"
    context = {
        "amount": entry.amount,
        "balance": wallet.balance,
        "currency": entry.currency,
        "merchant": merchant,
        "expires_at": format_deadline(
            entry.expires_at, language=language, time_zone=merchant.time_zone
        )
        if entry.expires_at
        else "",
    }
    with translation.override(language):
        subject = render_to_string("emails/cashback_subject.txt", context).strip()
        text = render_to_string("emails/cashback_body.txt", context)
        html = render_to_string("emails/cashback_body.html", context)
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=merchant.pk,
        to=dispatch.recipient,
        subject=subject,
        text=text,
        html=html,
        reply_to=merchant.payer_reply_to,
        sender_name=merchant.sender_name,
        livemode=dispatch.livemode,
    )


def register() -> None:
    outbox_kind_register(OutboxKind(name=KIND, prepare=_prepare, build=_build))
