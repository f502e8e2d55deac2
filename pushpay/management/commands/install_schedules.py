from django.core.management.base import BaseCommand

from pushpay.schedules import install_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules the product relies on."

    def handle(self, *args, **options) -> None:
        for name in install_schedules():
            self.stdout.write(f"schedule ready: {name}")
