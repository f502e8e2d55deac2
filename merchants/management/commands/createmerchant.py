import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from merchants.models import ApiKey, Membership
from merchants.services import api_key_create, membership_grant, merchant_create, user_create
from pushpay.i18n import LANGUAGE_CODES


class Command(BaseCommand):
    help = "Create a merchant, its owner login and a first API key (the secret is shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", required=True, help="The owner's login.")
        parser.add_argument("--password", required=True)
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--language", default="fr", choices=LANGUAGE_CODES)
        parser.add_argument(
            "--live", action="store_true", help="Create a live key, not a test key."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options) -> None:
        try:
            with transaction.atomic():
                merchant = merchant_create(
                    name=options["name"],
                    default_currency=options["currency"],
                    default_language=options["language"],
                    contact_email=options["email"],
                )
                user = user_create(email=options["email"], password=options["password"])
                membership_grant(merchant=merchant, user=user, role=Membership.Role.OWNER)
                created = api_key_create(
                    merchant=merchant,
                    mode=ApiKey.Mode.LIVE if options["live"] else ApiKey.Mode.TEST,
                    created_by=user,
                )
        except (ValueError, ValidationError) as exc:
            raise CommandError(str(exc)) from exc

        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "merchant": {
                            "id": merchant.public_id,
                            "name": merchant.name,
                            "slug": merchant.slug,
                        },
                        "owner": {"email": user.email},
                        "api_key": created.secret,
                    }
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Merchant {merchant.name} ({merchant.public_id})"))
        self.stdout.write(f"Owner login: {user.email}")
        self.stdout.write(f"API key (shown once, store it now): {created.secret}")
