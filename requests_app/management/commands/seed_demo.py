from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from merchants.models import ApiKey, Membership, Merchant
from merchants.services import hash_secret, membership_grant, merchant_create, user_create
from notifications.selectors import template_for_stage
from notifications.services import template_install_defaults
from requests_app import services
from requests_app.models import PaymentRequest
from requests_app.services import ParticipantData
from scenarios.models import Scenario
from scenarios.services import scenario_create

DEMO_EMAIL = "demo@pushpay.example"
DEMO_PASSWORD = "demo-pay-2026"
# A fixed, public demo key so the README's curl examples work on every fresh demo.
DEMO_API_KEY = "sk_test_DemoKeyForTheEmbeddedDefaultOnly000000"


class Command(BaseCommand):
    help = "Seed a demo merchant, an operator login and requests in every status (dev only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Seed even when DEBUG is off.")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_demo creates a public demo login; run it with DEBUG=true.")
        with transaction.atomic():
            merchant = Merchant.objects.filter(slug="demo").first() or merchant_create(
                name="Demo Café", slug="demo", default_language="en", contact_email=DEMO_EMAIL
            )
            User = get_user_model()
            user = User.objects.filter(username=DEMO_EMAIL).first() or user_create(
                email=DEMO_EMAIL, password=DEMO_PASSWORD
            )
            membership_grant(merchant=merchant, user=user, role=Membership.Role.OWNER)
            ApiKey.objects.get_or_create(
                secret_hash=hash_secret(DEMO_API_KEY),
                defaults={"merchant": merchant, "name": "Demo", "prefix": DEMO_API_KEY[:12]},
            )
            template_install_defaults(merchant=merchant)
            scenario = self._seed_scenario(merchant)
            created = self._seed_requests(merchant, scenario)
        self.stdout.write(
            self.style.SUCCESS(f"Demo merchant: {merchant.name} ({created} new requests)")
        )
        self.stdout.write(f"Back-office login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
        self.stdout.write(f"Demo API key: {DEMO_API_KEY}")

    def _seed_scenario(self, merchant: Merchant) -> Scenario:
        """The usual follow-up: a notice, a reminder two days before the deadline, three
        overdue reminders, a retry link after a failure and a receipt."""
        existing = Scenario.objects.filter(merchant=merchant, name="Standard reminders").first()
        if existing:
            return existing

        def email(stage: str) -> str:
            return template_for_stage(merchant=merchant, stage=stage, channel="email").public_id

        def sms(stage: str) -> str:
            return template_for_stage(merchant=merchant, stage=stage, channel="sms").public_id

        unpaid = {"audience": "unpaid_participants", "channel": "email"}
        return scenario_create(
            merchant=merchant,
            name="Standard reminders",
            steps=[
                {"trigger": "request_created", "template": email("request_created"), **unpaid},
                {
                    "trigger": "request_created",
                    "audience": "unpaid_participants",
                    "channel": "sms",
                    "template": sms("request_created"),
                },
                {
                    "trigger": "before_deadline",
                    "offset": "P2D",
                    "template": email("reminder_before_deadline"),
                    **unpaid,
                },
                {
                    "trigger": "after_deadline",
                    "offset": "P1D",
                    "repeat_every": "P3D",
                    "repeat_max": 3,
                    "template": email("overdue_reminder"),
                    **unpaid,
                },
                {
                    "trigger": "payment_failed",
                    "audience": "all_participants",
                    "channel": "email",
                    "template": email("payment_failed"),
                },
                {
                    "trigger": "payment_succeeded",
                    "audience": "all_participants",
                    "channel": "email",
                    "template": email("payment_succeeded"),
                },
            ],
        )

    def _seed_requests(self, merchant: Merchant, scenario: Scenario) -> int:
        now = timezone.now()
        people = [
            ParticipantData(name="Alice Martin", email="alice@example.com", language="fr"),
            ParticipantData(name="Bob Durand", email="bob@example.com", phone="+33612345678"),
            ParticipantData(name="Chloé Petit", phone="+33698765432", language="fr"),
        ]

        def make(reference, description, **kwargs):
            existing = PaymentRequest.objects.filter(merchant=merchant, reference=reference).first()
            if existing:
                return existing, False
            kwargs.setdefault("participants", people)
            kwargs.setdefault("deadline", now + timedelta(days=14))
            kwargs.setdefault("expires_at", now + timedelta(days=30))
            return services.payment_request_create(
                merchant=merchant,
                reference=reference,
                description=description,
                currency="EUR",
                **kwargs,
            ), True

        count = 0
        _, new = make(
            "DEMO-OPEN",
            "Team dinner at Chez Paul",
            total_amount=9000,
            split="equal",
            scenario=scenario.public_id,
        )
        count += new
        pr, new = make("DEMO-PARTIAL", "Ski chalet, February", total_amount=120000, split="equal")
        if new:
            services.participant_record_payment(participant=pr.participants.first(), amount=40000)
            count += 1
        pr, new = make(
            "DEMO-PAID",
            "Invoice 2026-117",
            total_amount=4990,
            participants=[
                ParticipantData(name="Dana Leroy", email="dana@example.com", amount=4990)
            ],
        )
        if new:
            services.participant_record_payment(participant=pr.participants.first(), amount=4990)
            count += 1
        pr, new = make(
            "DEMO-CLOSED", "Boat trip, closed at expiry", total_amount=6000, split="equal"
        )
        if new:
            services.participant_record_payment(participant=pr.participants.first(), amount=2000)
            services.payment_request_expire(payment_request=pr)
            count += 1
        # Demo money is booked without a card, so its refunds are booked the same way.
        for reference, description, refunded in (
            ("DEMO-REFUNDED", "Invoice 2026-118, refunded", 4990),
            ("DEMO-PART-REFUNDED", "Invoice 2026-119, part refunded", 1000),
        ):
            pr, new = make(
                reference,
                description,
                total_amount=4990,
                participants=[
                    ParticipantData(name="Dana Leroy", email="dana@example.com", amount=4990)
                ],
            )
            if new:
                payer = pr.participants.first()
                services.participant_record_payment(participant=payer, amount=4990)
                services.participant_record_refund(participant=payer, amount=refunded)
                count += 1
        pr, new = make("DEMO-EXPIRED", "Concert tickets", total_amount=6000, split="equal")
        if new:
            services.payment_request_expire(payment_request=pr)
            count += 1
        pr, new = make("DEMO-CANCELLED", "Cancelled workshop", total_amount=15000, split="equal")
        if new:
            services.payment_request_cancel(payment_request=pr, reason="workshop cancelled")
            count += 1
        _, new = make(
            "DEMO-POT",
            "Farewell gift for Eva",
            amount_mode="free",
            total_amount=20000,
            min_amount=500,
            max_amount=5000,
        )
        count += new
        return count
