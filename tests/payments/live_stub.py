"""A stand-in for a real (live) card acquirer, for tests of what live mode refuses.

It moves no money and is never registered by the product: the ``live_cards`` fixture puts it
behind the card method's live side for one test, so that a live request can exist and a
public test card can be shown to bounce off it. Every call is recorded so tests can assert
that nothing reached the provider.
"""

from pathlib import Path
from typing import ClassVar

from payments.adapters.base import PaymentMethodAdapter, PaymentResult, PaymentStatus

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


class LiveAcquirerStub(PaymentMethodAdapter):
    code = "card"
    label = "Card (live acquirer stub)"
    payer_fields_template = "tests/live_card_fields.html"
    calls: ClassVar[list[tuple[str, dict]]] = []

    def _answer(self, operation: str, status: PaymentStatus, amount: int, **call) -> PaymentResult:
        self.calls.append((operation, call))
        return PaymentResult(
            status=status, provider_reference="live_auth_1", amount=amount, currency="EUR"
        )

    def authorise(self, *, amount, currency, source, idempotency_key, return_url=""):
        return self._answer("authorise", PaymentStatus.AUTHORISED, amount, source=source)

    def capture(self, *, reference, amount, idempotency_key):
        return self._answer("capture", PaymentStatus.CAPTURED, amount, reference=reference)

    def void(self, *, reference, idempotency_key):
        return self._answer("void", PaymentStatus.CANCELLED, 0, reference=reference)

    def refund(self, *, reference, amount, idempotency_key):
        return self._answer("refund", PaymentStatus.REFUNDED, amount, reference=reference)

    def retrieve(self, *, reference):
        return self._answer("retrieve", PaymentStatus.AUTHORISED, 0, reference=reference)
