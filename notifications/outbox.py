"""Writing to the local outbox (the embedded default's stand-in for an ESP and an SMS
gateway). Each row records which outbox row (dispatch) it stands for."""


def outbox_store(
    *,
    channel: str,
    to: str,
    subject: str = "",
    text: str = "",
    html: str = "",
    from_address: str = "",
    merchant_id: int | None = None,
    notification_id: str = "",
    livemode: bool = False,
):
    from .models import OutboxMessage

    return OutboxMessage.objects.create(
        channel=channel,
        to=to,
        from_address=from_address,
        subject=subject[:300],
        text=text,
        html=html,
        merchant_id=merchant_id,
        livemode=livemode,
        dispatch_public_id=notification_id,
    )
