from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            dispute_outbox,
            outbox,
            reactions,
            reconciliation_outbox,
            reconciliation_reactions,
        )
        from .installments import reactions as installment_reactions
        from .wallet import outbox as wallet_outbox
        from .wallet import reactions as wallet_reactions

        reactions.register()
        dispute_outbox.register()
        installment_reactions.register()
        outbox.register()
        reconciliation_reactions.register()
        reconciliation_outbox.register()
        wallet_reactions.register()
        wallet_outbox.register()

        from pushpay.metrics import register_collector

        from .metrics import PaymentCollector

        register_collector("payments.operations", PaymentCollector())
