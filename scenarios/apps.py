from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "scenarios"

    def ready(self) -> None:
        from . import outbox, reactions

        reactions.register()
        outbox.register()
