from django.apps import AppConfig


class PushpayConfig(AppConfig):
    name = "pushpay"
    verbose_name = "Push & Pay core"

    def ready(self) -> None:
        from pushpay.request_id import connect_task_hooks

        # Every task enqueued by any app carries the request id of the request behind it.
        connect_task_hooks()
