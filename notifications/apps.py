from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from anymail.signals import tracking

        from merchants.services import merchant_created_register

        from .receivers import anymail_tracking

        tracking.connect(anymail_tracking, dispatch_uid="notifications.anymail_tracking")

        from .services import template_install_defaults

        # Every merchant starts with the shipped templates, so a first scenario needs no
        # writing.
        merchant_created_register(lambda merchant: template_install_defaults(merchant=merchant))

        from pushpay.metrics import register_collector

        from .metrics import OutboxCollector

        register_collector("notifications.outbox", OutboxCollector())

        from requests_app.events import integrator_types, reaction_register

        from . import webhook_outbox
        from .webhooks import webhook_deliveries_plan

        # In the event's transaction: a subscribed endpoint's delivery commits with the fact.
        reaction_register(
            name="notifications.webhook_deliveries",
            handler=webhook_deliveries_plan,
            types=tuple(integrator_types()),
        )
        webhook_outbox.register()

        from . import invitation_outbox

        invitation_outbox.register()
