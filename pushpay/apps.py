from django.apps import AppConfig


class PushpayConfig(AppConfig):
    name = "pushpay"
    verbose_name = "Push & Pay core"
