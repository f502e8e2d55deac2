from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            outbox,
            reactions,
        )
        from .wallet import outbox as wallet_outbox
        from .wallet import reactions as wallet_reactions

        reactions.register()
        outbox.register()
        wallet_reactions.register()
        wallet_outbox.register()
