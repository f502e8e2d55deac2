"""No English on a French back-office page: every page the route walker finds under /app/,
read by a French-speaking operator with data in every state (requests paid, refunded,
cancelled, expired; checkouts and legs; installments; messages sent, failed, skipped; webhook
deliveries; CSV jobs of each status), must not show any of the product's English labels.

The English labels are collected, not listed by hand: every model choice's label, every
payment method's name, and every msgid of the French catalogue that has a French
translation. A page fails when one of them is a whole visible text (a text node, a
placeholder, a title, an aria-label, a button's value), so "Open" as a badge is caught while
"Open" inside a French sentence or a merchant's own data is not. A label that reads the same
in both languages (its text is also some msgid's French translation: "Actions", "Description")
cannot be told apart and is left out.
"""

import re
from datetime import timedelta
from functools import cache
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from merchants.models import OperatorPreference
from pushpay.i18n import LANGUAGE_NAMES
from tests.factories import MembershipFactory, make_request
from tests.routes import iter_routes, merchant_objects, url_for

pytestmark = pytest.mark.django_db

PRODUCT_APPS = ("merchants", "requests_app", "payments", "scenarios", "notifications", "smartforms")
# Words that are the same in French, or names: not a sign of a missing translation.
SAME_IN_FRENCH = {"SMS", "PayPal", "Stripe", "Webhook", "Email", "OK", "Page", "ID", "URL"}
SAME_IN_FRENCH -= {"Email"}  # French says "E-mail": "Email" alone is the English label

# Query strings worth a page of their own: filters that render choices or badges.
EXTRA_QUERIES = {
    "backoffice:request_list": [
        *(f"status={s}" for s in ("open", "paid", "cancelled", "refunded", "expired")),
        "payment_method=card",
        "amount_min=lots",
        "created_after=not-a-date",
    ],
    "notifications:template_list": ["channel=sms", "channel=email", "status=archived"],
    "backoffice:dashboard": ["period=30d"],
}


class _VisibleText(HTMLParser):
    """The texts a person sees or hears: text nodes outside scripts, styles and code, and the
    attributes read aloud or shown (placeholders, titles, labels, button values)."""

    HIDDEN = {"script", "style", "code", "pre", "textarea", "template"}
    SHOWN_ATTRS = {"placeholder", "title", "aria-label", "alt"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        values = dict(attrs)
        for name in self.SHOWN_ATTRS:
            if values.get(name):
                self.texts.append(values[name])
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.texts.append(data)


def visible_texts(html: str) -> set[str]:
    parser = _VisibleText()
    parser.feed(html)
    return {" ".join(t.split()) for t in parser.texts if t.strip()}


@cache
def catalogue():
    with open(settings.BASE_DIR / "locale/fr/LC_MESSAGES/django.po", "rb") as po:
        return read_po(po)


def _msgids_and_translations() -> tuple[set[str], set[str]]:
    english, french = set(), set()
    for message in catalogue():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        french.update(s for s in strings if s)
        for msgid, msgstr in zip(ids, strings, strict=False):
            if msgstr and msgstr != msgid:
                english.add(msgid)
    return english, french


def english_labels() -> set[str]:
    """Every English text the product uses as a label, less those that read the same in
    French. Texts with placeholders are kept only when what is around them is a label."""
    from payments.registry import payment_methods

    labels: set[str] = set()
    # The labels as written (English), whatever language an earlier test left active.
    with translation.override("en"):
        for model in apps.get_models():
            if model._meta.app_label not in PRODUCT_APPS:
                continue
            for field in model._meta.get_fields():
                for _value, label in getattr(field, "flatchoices", None) or ():
                    labels.add(str(label))
        labels.update(str(method.label) for method in payment_methods())
    msgids, french = _msgids_and_translations()
    labels.update(msgids)
    labels = {" ".join(label.split()) for label in labels}
    return {
        label
        for label in labels
        if label
        and "%(" not in label
        and "{" not in label
        and "<" not in label
        and label not in french
        and label not in SAME_IN_FRENCH
        and label not in LANGUAGE_NAMES.values()  # each language in its own name, by design
        and re.search(r"[A-Za-z]{2}", label)
    }


def leaks(html: str, labels: set[str]) -> set[str]:
    return visible_texts(html) & labels


# --- Data in every state ------------------------------------------------------------------------


def _every_state(merchant) -> None:
    """Requests, payments, messages and jobs in the states a page shows as a badge."""
    from notifications.dispatcher import dispatch_due
    from payments import services as payment_services
    from requests_app import services
    from requests_app.models import CsvJob
    from requests_app.services import csv_io
    from tests.payments.conftest import CHALLENGE, DECLINED, card_details

    def tokenise(number: str) -> str:
        from payments.sandbox.services import sandbox_card_tokenise

        details = card_details(number)
        return sandbox_card_tokenise(
            number=details["number"].replace(" ", ""),
            exp_month=details["exp_month"],
            exp_year=details["exp_year"],
            cvc=details["cvc"],
        ).token

    paid = make_request(merchant, reference="ETAT-PAYEE")
    for participant in paid.participants.all():
        payment_services.checkout_start(
            participant=participant, method="card", source=tokenise("4242424242424242")
        )
    partly = make_request(merchant, reference="ETAT-PARTIELLE")
    payment_services.checkout_start(
        participant=partly.participants.first(),
        method="card",
        source=tokenise("4242424242424242"),
    )
    refunded = make_request(merchant, reference="ETAT-REMBOURSEE")
    for participant in refunded.participants.all():
        payment_services.checkout_start(
            participant=participant, method="card", source=tokenise("4242424242424242")
        )
    refunded.refresh_from_db()
    payment_services.payment_request_refund(payment_request=refunded)
    declined = make_request(merchant, reference="ETAT-REFUS")
    payment_services.checkout_start(
        participant=declined.participants.first(),
        method="card",
        source=tokenise(DECLINED),
    )
    challenged = make_request(merchant, reference="ETAT-3DS")
    payment_services.checkout_start(
        participant=challenged.participants.first(),
        method="card",
        source=tokenise(CHALLENGE),
        return_url=lambda co: "http://testserver/return/",
    )
    cancelled = make_request(merchant, reference="ETAT-ANNULEE")
    services.payment_request_cancel(payment_request=cancelled, reason="test")
    expired = make_request(merchant, reference="ETAT-EXPIREE")

    services.payment_request_expire(payment_request=expired)
    dispatch_due()  # messages sent (to the local outbox), failed or skipped

    # Installments: one falling due this week (the week's list) and a defaulted plan.
    from payments.installments.models import Installment, InstallmentPlan
    from payments.installments.services import installment_plan_start

    Installment.objects.filter(plan__merchant=merchant, status=Installment.Status.SCHEDULED).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    defaulted = installment_plan_start(
        participant=make_request(merchant, reference="ETAT-PLAN").participants.first(),
        source=tokenise("4242424242424242"),
        count=2,
        interval_unit="month",
    )
    InstallmentPlan.objects.filter(pk=defaulted.pk).update(status=InstallmentPlan.Status.DEFAULTED)

    for status in CsvJob.Status.values:
        job = csv_io.csv_export_start(
            merchant=merchant, livemode=False, user=None, query={}, total=3
        )
        CsvJob.objects.filter(pk=job.pk).update(status=status, kind=CsvJob.Kind.IMPORT)


@pytest.fixture
def french_operator(merchant, settings):
    from tests.scenarios.conftest import OUTBOX_BACKEND

    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.SMS_BACKEND = "outbox"
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    user = MembershipFactory(merchant=merchant, role="owner").user
    OperatorPreference.objects.create(user=user, language="fr")
    client = Client()
    client.force_login(user)
    return client


def _pages(merchant):
    objects = merchant_objects(merchant)
    _every_state(merchant)
    from requests_app.models import CsvJob, PaymentRequest

    requests = list(
        PaymentRequest.objects.filter(merchant=merchant).values_list("public_id", flat=True)
    )
    jobs = list(CsvJob.objects.filter(merchant=merchant).values_list("public_id", flat=True))
    for route in iter_routes(kinds={"backoffice"}):
        if "GET" not in route.methods:
            continue
        ids = route.ids_from(objects)
        yield route, url_for(route, **ids)
        for query in EXTRA_QUERIES.get(route.label, ()):
            yield route, f"{url_for(route, **ids)}?{query}"
        # The pages of one object, once for each object in another state.
        if route.kwargs_names == ("public_id",) and route.resources["public_id"] == "request":
            for public_id in requests:
                yield route, url_for(route, public_id=public_id)
        if route.kwargs_names == ("public_id",) and route.resources["public_id"] == "csv_job":
            for public_id in jobs:
                yield route, url_for(route, public_id=public_id)


def test_the_english_labels_are_found_in_the_models_and_the_catalogue():
    labels = english_labels()
    assert {"Partially paid", "Errors found", "Holiday vouchers", "Cashback wallet"} <= labels
    assert "Actions" not in labels and "SMS" not in labels


def test_no_back_office_page_shows_an_english_label_to_a_french_operator(french_operator, merchant):
    labels = english_labels()
    found: dict[str, set[str]] = {}
    for _route, url in _pages(merchant):
        response = french_operator.get(url)
        assert response.status_code < 500, url
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        if url.endswith(("/installments/due/", "/installments/defaulted/")):
            assert 'data-testid="due-row"' in html or 'data-testid="defaulted-row"' in html, url
        leaked = leaks(html, labels)
        if leaked:
            found[url] = leaked
    assert not found, "English left on French pages:\n" + "\n".join(
        f"{url}: {sorted(texts)}" for url, texts in sorted(found.items())
    )


# --- Service refusals: French on a page, English in the API -------------------------------------


def test_a_refusal_reads_in_the_active_language_and_keeps_its_english_message():
    from django.utils import translation

    from pushpay.errors import InvalidFields, InvalidInput, StateConflict

    duplicate = StateConflict(
        "A payment request with reference '%(reference)s' already exists.",
        params={"reference": "INV-1"},
        code="duplicate_reference",
        field="reference",
    )
    with translation.override("fr"):
        assert duplicate.message == "A payment request with reference 'INV-1' already exists."
        assert duplicate.localized == "Une demande de paiement de référence « INV-1 » existe déjà."
        both = InvalidFields([InvalidInput("Enter a valid email address.", code="invalid_email")])
        assert both.message == "Enter a valid email address."
        assert both.localized == "Saisissez une adresse e-mail valide."
    with translation.override("en"):
        assert duplicate.localized == duplicate.message
    # Nobody translated it: the English text in both, never an error.
    assert InvalidInput("%(x)s is odd", params={"x": "%"}, code="c").localized == "% is odd"


def test_the_new_request_form_shows_the_services_refusals_in_french(french_operator, merchant):
    from tests.requests_app.test_backoffice_actions import new_request_post

    make_request(merchant, reference="DINNER-42")
    response = french_operator.post("/app/requests/new/", new_request_post())
    assert response.status_code == 422
    html = response.content.decode()
    assert "Une demande de paiement de référence « DINNER-42 » existe déjà." in html
    assert "already exists" not in html

    phone = new_request_post(reference="DINNER-43", **{"participants-1-phone": "12"})
    html = french_operator.post("/app/requests/new/", phone).content.decode()
    assert "Saisissez le numéro au format international E.164" in html
    assert "Enter the phone number" not in html
    assert not leaks(html, english_labels())


def test_the_team_page_shows_the_services_refusals_in_french(french_operator, merchant):
    member = MembershipFactory(merchant=merchant, role="agent").user
    response = french_operator.post(
        "/app/team/invite/", {"email": member.email, "role": "admin"}, follow=True
    )
    html = response.content.decode()
    assert f"{member.email} fait déjà partie de cette équipe." in html
    assert "is already a member" not in html


def test_a_csv_import_checked_by_a_worker_reports_in_the_uploaders_language(
    french_operator, merchant, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import translation

    from requests_app.models import CsvJob
    from requests_app.tasks import csv_job_run

    text = (
        "reference,currency,amount,participant_name,participant_email\n"
        "CSV-1,EUR,10.00,Ann,not-an-email\n"
    )
    upload = SimpleUploadedFile("r.csv", text.encode(), content_type="text/csv")
    french_operator.post("/app/requests/import/", {"file": upload})  # queued, not run yet
    job = CsvJob.objects.get()
    with translation.override("en"):  # a worker has no request, hence no language
        csv_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == CsvJob.Status.INVALID
    assert [e["message"] for e in job.errors] == ["Saisissez une adresse e-mail valide."]


def test_the_api_keeps_its_english_messages_whatever_the_callers_language(api, merchant):
    make_request(merchant, reference="INV-7")
    body = {
        "reference": "INV-7",
        "currency": "EUR",
        "total_amount": 1000,
        "participants": [{"name": "Ann", "email": "ann@example.com", "amount": 1000}],
    }
    response = api.post("/api/v1/payment-requests", body, format="json", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate_reference"
    assert error["message"] == "A payment request with reference 'INV-7' already exists."

    body = {
        **body,
        "reference": "INV-8",
        "participants": [{"name": "Ann", "phone": "12", "amount": 1000}],
    }
    error = api.post(
        "/api/v1/payment-requests", body, format="json", HTTP_ACCEPT_LANGUAGE="fr"
    ).json()["error"]
    assert error["code"] == "invalid_phone"
    assert error["message"] == "Enter the phone number in E.164 format, e.g. +33612345678."


def test_a_scenarios_steps_are_described_in_french(french_operator, merchant):
    from notifications import services as template_services
    from tests.scenarios.helpers import make_scenario, step

    template = template_services.template_create(
        merchant=merchant,
        name="Relance",
        channel="email",
        subject={"fr": "Payez {{ request.reference }}"},
        body_text={"fr": "Bonjour {{ payer.name }} : {{ pay_url }}"},
    )
    scenario = make_scenario(
        merchant,
        [
            step("request_created", template),
            step(
                "before_deadline",
                template,
                offset="P2DT6H",
                quiet_hours={"start": "21:00", "end": "08:00"},
            ),
            step("after_deadline", template, offset="P1D", repeat_every="P3D", repeat_max=3),
        ],
        name="Relances",
    )
    html = french_operator.get(f"/app/scenarios/{scenario.public_id}/").content.decode()
    texts = visible_texts(html)
    assert "À l\u2019envoi (heure d\u2019envoi prévue, ou création)" in texts
    assert "2 jours 6 heures avant l\u2019échéance" in texts
    assert "Tous les 3 jours, 3 messages en tout, jusqu\u2019au paiement" in html
    assert "heures calmes de 21:00 à 08:00" in html
    assert "before the deadline" not in html and "messages in all" not in html


def test_the_api_schema_reads_the_same_in_every_language(client):
    english = client.get("/api/v1/schema/", HTTP_ACCEPT_LANGUAGE="en").content
    assert b"`partially_paid` - Partially paid" in english
    assert client.get("/api/v1/schema/", HTTP_ACCEPT_LANGUAGE="fr").content == english
    assert client.get("/api/v1/schema/?lang=fr").content == english
