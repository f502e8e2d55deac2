from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "scenarios"

    def ready(self) -> None:
        from anymail.signals import tracking

        from . import reactions
        from .receivers import anymail_tracking

        tracking.connect(anymail_tracking, dispatch_uid="scenarios.anymail_tracking")
        reactions.register()
