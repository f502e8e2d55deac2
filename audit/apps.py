from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from simple_history.signals import post_create_historical_record

        from . import recorder

        # The one place snapshots become entries; the apps themselves know nothing of it.
        post_create_historical_record.connect(recorder.on_snapshot, dispatch_uid="audit_entry")
