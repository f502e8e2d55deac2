from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            outbox,
            reactions,
        )

        reactions.register()
        outbox.register()
