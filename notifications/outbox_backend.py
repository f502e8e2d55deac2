"""An email backend that keeps messages in the database (the embedded default's outbox), so
the back office and ``GET /api/v1/outbox`` can show what would have been sent."""

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from .outbox import outbox_store


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        count = 0
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            outbox_store(
                channel="email",
                to=", ".join(message.to),
                from_address=message.from_email or "",
                subject=message.subject,
                text=message.body,
                html=html,
                merchant_id=getattr(message, "pushpay_merchant_id", None),
                notification_id=getattr(message, "pushpay_notification_id", ""),
                livemode=getattr(message, "pushpay_livemode", False),
            )
            count += 1
        return count
