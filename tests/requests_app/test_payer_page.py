"""The payer's page: what it shows in each state, and paying through it."""

import threading
import time
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from requests_app import services
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.conftest import CHALLENGE, DECLINED, SUCCEEDS


@pytest.fixture
def pr(merchant):
    return make_request(merchant, description="Team dinner")


def url(participant):
    return f"/pay/{participant.link_token}/"


@pytest.mark.django_db
def test_the_page_shows_what_is_due_and_a_labelled_card_form(client, pr):
    html = client.get(url(pr.participants.first())).content.decode()
    assert "Team dinner" in html and "€10.00" in html
    for label in ("Card number", "Expiry date", "CVC"):
        assert f">{label}</label>" in html
    assert "Pay €10.00" in html
    assert 'name="card_token"' in html
    assert 'id="sandbox-card-number" data-card-field="number"' in html
    assert 'name="number"' not in html  # card inputs are never posted to us


@pytest.mark.django_db
def test_the_page_speaks_french_for_a_french_payer_and_switches(client, merchant):
    pr = make_request(
        merchant,
        participants=[
            ParticipantData(name="Zoé", email="z@example.com", amount=1000, language="fr")
        ],
        total_amount=1000,
    )
    payer = pr.participants.get()
    html = client.get(url(payer)).content.decode()
    assert "Numéro de carte" in html and "Payer 10,00" in html
    english = client.get(url(payer) + "?lang=en").content.decode()
    assert "Card number" in english and "Pay €10.00" in english


@pytest.mark.django_db
def test_paying_with_a_good_card_redirects_to_the_receipt(client, pr, tokenise):
    payer = pr.participants.first()
    response = client.post(url(payer), {"card_token": tokenise(SUCCEEDS)})
    assert response.status_code == 302
    assert "/receipt/co_" in response.url
    receipt = client.get(response.url).content.decode()
    assert "Payment received" in receipt and "€10.00" in receipt and "4242" in receipt
    assert "You have paid €10.00" in client.get(url(payer)).content.decode()


@pytest.mark.django_db
def test_a_declined_card_shows_the_reason_and_the_form_again(client, pr, tokenise):
    payer = pr.participants.first()
    response = client.post(url(payer), {"card_token": tokenise(DECLINED)})
    html = response.content.decode()
    assert response.status_code == 402
    assert "Your bank declined the payment" in html
    assert "Pay €10.00" in html


@pytest.mark.django_db
def test_a_post_without_a_token_is_refused_without_a_checkout(client, pr):
    response = client.post(url(pr.participants.first()), {})
    assert response.status_code == 422
    assert "Enter your card details" in response.content.decode()
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_a_post_replayed_after_success_charges_nothing_more(client, pr, tokenise):
    payer = pr.participants.first()
    token = tokenise(SUCCEEDS)
    client.post(url(payer), {"card_token": token})
    replay = client.post(url(payer), {"card_token": token})
    assert replay.status_code == 200
    assert "You have paid" in replay.content.decode()
    assert sandbox_card_balance(token=token).debited == 1000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "Enter an amount"),
        ("10.555", "Enter an amount"),
        ("1", "below the minimum"),
        ("999", "above the maximum"),
        ("-5", "Enter an amount"),
    ],
)
def test_free_amounts_out_of_range_are_refused_with_no_charge(
    client, merchant, tokenise, amount, message
):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        min_amount=500,
        max_amount=5000,
        participants=[ParticipantData(name="A", email="a@example.com")],
    )
    payer = pot.participants.get()
    token = tokenise(SUCCEEDS)
    response = client.post(url(payer), {"amount": amount, "card_token": token})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount",
    [
        "1e300000",
        "1e999999",
        "1_000",
        "\u0661\u0662",  # Arabic-Indic digits
        "\uff11\uff12",  # fullwidth digits
        "  12",
        "12.555",
        "-5",
        "Infinity",
        "NaN",
        "0",
        "9" * 10_000,
    ],
)
def test_a_free_amount_that_is_not_a_plain_decimal_is_refused_quickly_with_no_charge(
    client, merchant, tokenise, amount
):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        participants=[ParticipantData(name="A", email="a@example.com")],
    )
    payer = pot.participants.get()
    token = tokenise(SUCCEEDS)
    started = time.perf_counter()
    response = client.post(url(payer), {"amount": amount, "card_token": token})
    assert time.perf_counter() - started < 1
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="amount-error"' in html
    assert "Enter an amount" in html or "greater than zero" in html
    assert Checkout.objects.count() == 0
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_a_free_amount_with_decimals_is_paid_in_minor_units(client, merchant, tokenise):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        participants=[ParticipantData(name="A", email="a@example.com")],
    )
    payer = pot.participants.get()
    token = tokenise(SUCCEEDS)
    assert client.post(url(payer), {"amount": "12,50", "card_token": token}).status_code == 302
    assert sandbox_card_balance(token=token).debited == 1250


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["cancelled", "expired", "paid"])
def test_closed_links_show_their_state_and_no_form(client, pr, tokenise, state):
    payer = pr.participants.first()
    if state == "cancelled":
        services.payment_request_cancel(payment_request=pr)
    elif state == "expired":
        services.payment_request_expire(payment_request=pr)
    else:
        services.participant_record_payment(participant=payer, amount=1000)
    html = client.get(url(payer)).content.decode()
    assert 'data-testid="state"' in html
    assert "card_token" not in html
    assert client.post(url(payer), {"card_token": tokenise(SUCCEEDS)}).status_code == 200
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_another_payers_receipt_is_not_reachable(client, pr, tokenise):
    first, second, _ = pr.participants.all()
    done = client.post(url(first), {"card_token": tokenise(SUCCEEDS)})
    checkout_id = done.url.split("/receipt/")[1].strip("/")
    assert client.get(f"/pay/{second.link_token}/receipt/{checkout_id}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_tabs_paying_the_same_share_capture_once(postgres_only, merchant):
    from payments.sandbox.services import sandbox_card_tokenise

    pr = make_request(merchant)
    payer = pr.participants.first()
    tokens = [
        sandbox_card_tokenise(
            number=SUCCEEDS.replace(" ", ""), exp_month=12, exp_year=2040, cvc="123"
        ).token
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    statuses = []

    def tab(token):
        try:
            barrier.wait()
            statuses.append(Client().post(url(payer), {"card_token": token}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Both tabs tokenised the same card: its ledger must show one debit of the share.
    assert sandbox_card_balance(token=tokens[0]).debited == 1000
    assert sorted(statuses)[0] == 302  # one tab reached the receipt
    payer.refresh_from_db()
    assert payer.amount_paid == 1000
    assert Checkout.objects.filter(status="succeeded").count() == 1


@pytest.fixture
def form(merchant):
    from smartforms.services import form_create

    return form_create(
        merchant=merchant,
        name="Registration",
        fields=[
            {
                "key": "company",
                "type": "text",
                "label": {"en": "Company", "fr": "Société"},
                "required": True,
                "min_length": 2,
            },
            {
                "key": "guests",
                "type": "number",
                "label": {"en": "Guests", "fr": "Invités"},
                "min": 1,
                "max": 5,
            },
            {
                "key": "diet",
                "type": "multiple_choice",
                "label": {"en": "Diet"},
                "choices": [
                    {"value": "veg", "label": {"en": "Vegetarian"}},
                    {"value": "gf", "label": {"en": "Gluten free"}},
                ],
            },
            {
                "key": "terms",
                "type": "consent",
                "label": {"en": "I accept the terms", "fr": "J'accepte les conditions"},
                "required": True,
            },
        ],
    )


@pytest.mark.django_db
def test_a_request_with_a_smart_form_shows_its_fields_and_locks_the_version(api, form, future):
    response = api.post(
        "/api/v1/payment-requests",
        {
            "reference": "FORM-1",
            "currency": "EUR",
            "total_amount": 1000,
            "form": form.public_id,
            "participants": [{"name": "Ann", "email": "ann@example.com", "amount": 1000}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["form"], response.json()["form_version"]) == (form.public_id, 1)
    form.current_version.refresh_from_db()
    assert form.current_version.is_locked


@pytest.mark.django_db
def test_an_unknown_or_foreign_form_is_refused(api, other_merchant):
    from smartforms.services import form_create

    theirs = form_create(
        merchant=other_merchant,
        name="Theirs",
        fields=[{"key": "x", "type": "text", "label": {"en": "X"}}],
    )
    for form_id in ("fm_nothing", theirs.public_id):
        response = api.post(
            "/api/v1/payment-requests",
            {
                "reference": f"F-{form_id}",
                "currency": "EUR",
                "total_amount": 1000,
                "form": form_id,
                "participants": [{"name": "A", "email": "a@example.com", "amount": 1000}],
            },
            format="json",
        )
        assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_form")


@pytest.mark.django_db
def test_answers_that_fail_validation_are_shown_and_nothing_is_charged(
    client, merchant, form, tokenise
):
    pr = make_request(merchant, form=form)
    payer = pr.participants.first()
    token = tokenise(SUCCEEDS)
    response = client.post(url(payer), {"card_token": token, "sf_company": "X", "sf_guests": "9"})
    html = response.content.decode()
    assert response.status_code == 422
    assert 'role="alert"' in html and "Company" in html
    assert 'value="X"' in html  # what the payer typed is kept
    assert sandbox_card_balance(token=token).debited == 0
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_valid_answers_are_stored_with_the_version_and_the_payment_goes_through(
    client, merchant, form, tokenise
):
    from smartforms.models import Submission

    pr = make_request(merchant, form=form)
    payer = pr.participants.first()
    response = client.post(
        url(payer),
        {
            "card_token": tokenise(SUCCEEDS),
            "sf_company": "Acme",
            "sf_guests": "2",
            "sf_diet": ["veg", "gf"],
            "sf_terms": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    submission = Submission.objects.get()
    assert submission.participant == payer.public_id
    assert submission.form_version == form.current_version
    assert submission.answers["company"] == "Acme"
    assert submission.answers["diet"] == ["veg", "gf"]
    assert submission.answers["terms"] is True
    assert Checkout.objects.get().form_submission == submission.public_id


@pytest.mark.django_db
def test_a_tampered_token_posted_to_the_page_is_refused_with_no_charge(client, pr):
    payer = pr.participants.first()
    response = client.post(url(payer), {"card_token": "tok_forgedforgedforged000"})
    assert response.status_code == 402
    assert "cannot be used" in response.content.decode()
    payer.refresh_from_db()
    assert payer.amount_paid == 0
    assert Checkout.objects.get().status == "failed"


@pytest.mark.django_db
def test_the_merchants_logo_and_colour_brand_the_page(client, pr, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    merchant = pr.merchant
    merchant.brand_color = "#aa3300"
    merchant.logo = SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n", "image/png")
    merchant.save()
    html = client.get(url(pr.participants.first())).content.decode()
    assert "#aa3300" in html
    assert 'src="/media/logos/logo' in html


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["xx", "../../etc", "%ff", "en_US", "EN", "x" * 300])
def test_an_unknown_language_in_a_link_falls_back_to_the_request_language(client, merchant, lang):
    pr = make_request(merchant, public_progress=True)
    payer = pr.participants.first()

    progress = client.get(f"/progress/{pr.progress_token}/?lang={lang}")
    page = client.get(f"{url(payer)}?lang={lang}")
    posted = client.post(f"{url(payer)}?lang={lang}", {"lang": lang})

    assert progress.status_code == 200
    assert 'lang="en"' in progress.content.decode()
    assert page.status_code == 200 and 'lang="en"' in page.content.decode()
    assert posted.status_code == 422


@pytest.mark.django_db
@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "urlencoded"])
@pytest.mark.parametrize(
    "fields",
    [
        {"card_token": "tok_\x00"},
        {"sf_company": "Acme\x00"},
        {"sf_diet": ["veg", "\x00"]},
        {"sf_\x00": "x"},
    ],
)
def test_a_nul_in_any_payer_field_is_refused_and_nothing_is_charged(
    client, merchant, form, tokenise, fields, multipart
):
    pr = make_request(merchant, form=form)
    payer = pr.participants.first()
    token = tokenise(SUCCEEDS)
    data = {"card_token": token, "sf_company": "Acme", "sf_guests": "2", "sf_terms": "on"}
    data |= fields
    if multipart:
        response = client.post(url(payer), data)
    else:
        body = urlencode(data, doseq=True)
        response = client.post(url(payer), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    assert Checkout.objects.count() == 0
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_a_card_token_longer_than_any_token_is_refused_with_no_checkout(client, pr):
    payer = pr.participants.first()
    response = client.post(url(payer), {"card_token": "tok_" + "x" * 3000})
    assert response.status_code == 422
    assert "cannot be used" in response.content.decode()
    assert Checkout.objects.count() == 0


def _french_payer(merchant, **overrides):
    kwargs = {
        "participants": [
            ParticipantData(name="Zoé", email="z@example.com", amount=1000, language="fr")
        ],
        "total_amount": 1000,
    }
    kwargs.update(overrides)
    return make_request(merchant, **kwargs).participants.get()


@pytest.mark.django_db
def test_the_page_declares_the_payers_language_to_assistive_technology(client, merchant):
    payer = _french_payer(merchant)
    assert '<html lang="fr">' in client.get(url(payer)).content.decode()
    assert '<html lang="en">' in client.get(url(payer) + "?lang=en").content.decode()


@pytest.mark.django_db
def test_a_french_payer_meets_the_3d_secure_page_in_french(client, merchant, tokenise):
    payer = _french_payer(merchant)

    response = client.post(url(payer), {"card_token": tokenise(CHALLENGE)})

    assert response.status_code == 302 and "lang=fr" in response.url
    html = client.get(response.url).content.decode()
    assert '<html lang="fr">' in html
    assert "Confirmez votre paiement" in html and ">Approuver<" in html and ">Refuser<" in html
    assert "10,00" in html and "Approve" not in html


@pytest.mark.django_db
def test_the_3d_secure_page_keeps_the_language_after_the_answer_and_ignores_unknown_ones(
    client, merchant, tokenise
):
    payer = _french_payer(merchant)
    challenge = client.post(url(payer), {"card_token": tokenise(CHALLENGE)}).url
    client.post(challenge, {"decision": "approve"})

    assert "Cette authentification est terminée" in client.get(challenge).content.decode()
    unknown = client.get(challenge.replace("lang=fr", "lang=../../etc"))
    assert unknown.status_code == 200 and "This authentication is finished" in (
        unknown.content.decode()
    )


@pytest.mark.django_db
def test_a_declined_card_keeps_the_answers_and_the_amount_the_payer_gave(
    client, merchant, form, tokenise
):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        participants=[ParticipantData(name="A", email="a@example.com")],
        form=form,
    )
    payer = pot.participants.get()

    response = client.post(
        url(payer),
        {
            "card_token": tokenise(DECLINED),
            "amount": "12.50",
            "sf_company": "Acme",
            "sf_guests": "2",
            "sf_diet": ["gf"],
            "sf_terms": "on",
        },
    )

    html = response.content.decode()
    assert response.status_code == 402
    assert "Your bank declined the payment" in html
    assert 'value="12.50"' in html
    assert 'value="Acme"' in html and 'value="2"' in html
    assert 'id="sf-diet-1" value="gf" checked>' in html
    assert 'id="sf-diet-0" value="veg">' in html
    assert 'id="sf-terms" name="sf_terms" checked' in html


@pytest.mark.django_db
def test_every_invalid_answer_is_flagged_not_only_the_first(client, merchant, form, tokenise):
    pr = make_request(merchant, form=form)
    payer = pr.participants.first()

    response = client.post(
        url(payer), {"card_token": tokenise(SUCCEEDS), "sf_company": "X", "sf_guests": "9"}
    )

    html = response.content.decode()
    assert response.status_code == 422
    for key in ("company", "guests", "terms"):
        assert f'id="sf-{key}-error"' in html, key
    assert 'id="sf-diet-error"' not in html
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_a_refused_3d_secure_check_brings_back_the_answers_and_the_amount(
    client, merchant, form, tokenise
):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        participants=[ParticipantData(name="A", email="a@example.com")],
        form=form,
    )
    payer = pot.participants.get()
    challenge = client.post(
        url(payer),
        {
            "card_token": tokenise(CHALLENGE),
            "amount": "12.50",
            "sf_company": "Acme",
            "sf_diet": ["gf"],
            "sf_terms": "on",
        },
    ).url

    back = client.post(challenge, {"decision": "refuse"})
    response = client.get(back["Location"])

    html = response.content.decode()
    assert response.status_code == 402 and "3-D Secure" in html
    assert 'value="12.50"' in html and 'value="Acme"' in html
    assert 'id="sf-diet-1" value="gf" checked>' in html
    assert 'id="sf-terms" name="sf_terms" checked' in html


def _checkout_reads(client, payer) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url(payer)).status_code == 200
    # Reads of checkout rows themselves; the participant's read only asks whether any exist.
    reads = captured.captured_queries
    return sum(q["sql"].startswith('SELECT "payments_checkout".') for q in reads)


@pytest.mark.django_db
def test_the_page_reads_the_payers_checkouts_once_at_most(client, pr, tokenise):
    payer = pr.participants.first()
    assert _checkout_reads(client, payer) == 0  # nothing paid yet: nothing to read
    client.post(url(payer), {"card_token": tokenise(DECLINED)})
    assert _checkout_reads(client, payer) == 0  # a failure is not shown: still nothing
    client.post(url(payer), {"card_token": tokenise(SUCCEEDS)})
    assert _checkout_reads(client, payer) == 1  # a failure and a success: one read


@pytest.mark.django_db
def test_the_page_shows_the_waiting_checkout_with_its_legs(client, pr, tokenise):
    from payments.selectors import payer_page_checkouts

    payer = pr.participants.order_by("position").first()
    client.post(url(payer), {"card_token": tokenise(CHALLENGE)})  # waits for 3-D Secure
    shown = payer_page_checkouts(participant=payer)
    assert shown.waiting is not None and shown.waiting.status == "requires_action"
    assert shown.held is None and shown.first_succeeded is None
    assert len(shown.waiting.legs.all()) == 1  # prefetched with it
    assert "Continue" in client.get(url(payer)).content.decode()
