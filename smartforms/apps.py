from django.apps import AppConfig


class SmartformsConfig(AppConfig):
    name = "smartforms"

    def ready(self) -> None:
        from . import reactions

        reactions.register()
