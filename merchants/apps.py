from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"

    def ready(self) -> None:
        # Connects the login receiver that starts a two-factor user half logged in.
        from . import middleware  # noqa: F401
