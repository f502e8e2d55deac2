from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from merchants.services import merchant_created_register

        from .services import template_install_defaults

        # Every merchant starts with the shipped templates, so a first scenario needs no
        # writing.
        merchant_created_register(lambda merchant: template_install_defaults(merchant=merchant))
