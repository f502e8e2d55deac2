"""The combined checkout on the payer page: one form, one amount per method, the legs' states,
the balance lookup behind "Use my balance", and a waiting checkout cancelled by the payer."""

from html import unescape

import pytest
from django.core.cache import cache

from payments import services as payment_services
from payments.models import Checkout
from payments.sandbox import vouchers
from payments.sandbox.selectors import sandbox_card_balance
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.conftest import CHALLENGE, DECLINED, SUCCEEDS

FIFTY = "1000000050"
EMPTY = "1000000000"
UNKNOWN = "1234567890"


@pytest.fixture
def methods(merchant):
    payment_services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payment_services.payment_method_enable(merchant=merchant, method="paypal")


def share(merchant, language="en", amount=8000):
    pr = make_request(
        merchant,
        total_amount=amount,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=amount, language=language)
        ],
    )
    return pr.participants.get()


def url(payer, suffix=""):
    return f"/pay/{payer.link_token}/{suffix}"


def vouchers_left(merchant):
    return vouchers.voucher_balance(merchant=merchant, number=FIFTY)


def combined_post(card_token, voucher="50.00", card="30.00", **extra):
    return {
        "methods": ["holiday_voucher", "card"],
        "amount_holiday_voucher": voucher,
        "source_holiday_voucher": FIFTY,
        "amount_card": card,
        "card_token": card_token,
        **extra,
    }


@pytest.mark.django_db
def test_the_form_offers_every_method_with_the_public_labels_in_english(client, merchant, methods):
    html = client.get(url(share(merchant))).content.decode()
    for text in ("Card", "Holiday vouchers", "PayPal", "Beneficiary number", "Use my balance"):
        assert text in html
    assert "Left to pay" in html and "€80.00" in html and "Pay €80.00" in html
    # Balance methods come first.
    assert html.index('data-method="holiday_voucher"') < html.index('data-method="card"')
    assert html.index('data-method="card"') < html.index('data-method="paypal"')
    assert 'aria-live="polite"' in html and "<legend" in html


@pytest.mark.django_db
def test_the_form_speaks_french(client, merchant, methods):
    html = client.get(url(share(merchant, "fr"))).content.decode()
    for text in (
        "Carte",
        "Chèques-Vacances",
        "PayPal",
        "Numéro de bénéficiaire",
        "Utiliser mon solde",
        "Reste à payer",
        "Payer 80,00\xa0€",
    ):
        assert text in html, text


@pytest.mark.django_db
def test_vouchers_and_a_card_pay_the_share_and_the_receipt_lists_both(
    client, merchant, methods, tokenise
):
    payer = share(merchant)
    token = tokenise(SUCCEEDS)
    response = client.post(url(payer), combined_post(token))
    assert response.status_code == 302 and "/receipt/" in response.url
    receipt = client.get(response.url).content.decode()
    assert "€80.00" in receipt and "Holiday vouchers" in receipt and "€50.00" in receipt
    assert "€30.00" in receipt
    assert vouchers_left(merchant).spent == 5000
    assert sandbox_card_balance(token=token).debited == 3000


@pytest.mark.django_db
def test_amounts_that_do_not_add_up_are_refused_and_nothing_moves(
    client, merchant, methods, tokenise
):
    payer = share(merchant, "fr")
    token = tokenise(SUCCEEDS)
    response = client.post(url(payer), combined_post(token, voucher="50,00", card="20,00"))
    html = unescape(response.content.decode())
    assert response.status_code == 422
    assert "70,00\xa0€" in html and "80,00\xa0€" in html and "Rien n'a été débité" in html
    assert "Reste à payer" in html and "10,00\xa0€" in html
    assert Checkout.objects.count() == 0
    assert vouchers_left(merchant).held == 0
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_an_unknown_beneficiary_is_a_french_field_error_with_nothing_stored(
    client, merchant, methods, tokenise
):
    payer = share(merchant, "fr")
    post = combined_post(tokenise(SUCCEEDS), source_holiday_voucher=UNKNOWN)
    response = client.post(url(payer), post)
    html = response.content.decode()
    assert response.status_code == 422
    assert "Aucun compte Chèques-Vacances ne porte ce numéro de bénéficiaire." in html
    assert 'id="source-holiday_voucher-error"' in html and 'role="alert"' in html
    assert 'aria-describedby="source-holiday_voucher-help source-holiday_voucher-error"' in html
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_a_voucher_amount_above_the_balance_is_refused_before_anything_is_held(
    client, merchant, methods, tokenise
):
    payer = share(merchant)
    response = client.post(
        url(payer), combined_post(tokenise(SUCCEEDS), source_holiday_voucher=EMPTY)
    )
    assert response.status_code == 422
    assert "Your balance is €0.00: it does not cover €50.00." in response.content.decode()
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_vouchers_and_a_declined_card_release_the_vouchers_and_show_each_leg(
    client, merchant, methods, tokenise
):
    payer = share(merchant)
    response = client.post(url(payer), combined_post(tokenise(DECLINED)))
    html = response.content.decode()
    assert response.status_code == 402
    assert "Your bank declined the payment" in html
    assert "Holiday vouchers €50.00 — released" in html
    assert "Card €30.00 — declined" in html
    assert (vouchers_left(merchant).available, vouchers_left(merchant).held) == (5000, 0)


@pytest.mark.django_db
def test_one_ticked_method_without_an_amount_pays_the_whole_share(client, merchant, methods):
    payer = share(merchant, amount=4000)
    response = client.post(
        url(payer), {"methods": ["holiday_voucher"], "source_holiday_voucher": FIFTY}
    )
    assert response.status_code == 302 and "/receipt/" in response.url
    assert vouchers_left(merchant).spent == 4000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({}, "Choose how you pay."),
        ({"methods": ["wallet"]}, "This payment method is not available."),
        ({"methods": ["holiday_voucher", "card"]}, "Enter the amount you pay with"),
        (
            {"methods": ["holiday_voucher"], "amount_holiday_voucher": "1e9"},
            "Enter an amount such as 25",
        ),
        ({"methods": ["holiday_voucher"]}, "Enter your beneficiary number."),
        (
            {"methods": ["holiday_voucher"], "source_holiday_voucher": "12"},
            "A beneficiary number has 10 digits.",
        ),
    ],
)
def test_junk_posts_are_refused_with_a_clear_message(client, merchant, methods, post, message):
    response = client.post(url(share(merchant)), post)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_paypal_then_a_card_challenge_sends_the_payer_to_each_page_in_turn(
    client, merchant, methods, tokenise
):
    payer = share(merchant)
    response = client.post(
        url(payer),
        {
            "methods": ["paypal", "card"],
            "amount_paypal": "50",
            "amount_card": "30",
            "card_token": tokenise(CHALLENGE),
        },
    )
    assert response.status_code == 302 and "/sandbox/paypal/" in response.url
    page = client.get(url(payer)).content.decode()
    assert "waiting for your confirmation" in page and "Cancel this payment" in page
    approve = response.url.split("?")[0]
    back = client.post(approve, {"decision": "approve"})
    resumed = client.get(back.url)
    assert resumed.status_code == 302 and "/sandbox/3ds/" in resumed.url


@pytest.mark.django_db
def test_a_payer_who_cancels_at_paypal_reads_so(client, merchant, methods):
    payer = share(merchant, "fr")
    response = client.post(url(payer), {"methods": ["paypal"]})
    back = client.post(response.url.split("?")[0], {"decision": "cancel"})
    html = unescape(client.get(back.url).content.decode())
    assert "Vous avez annulé chez PayPal. Rien n'a été débité." in html
    assert "3-D Secure" not in html


@pytest.mark.django_db
def test_cancel_this_payment_releases_the_vouchers_held(client, merchant, methods):
    payer = share(merchant)
    client.post(
        url(payer),
        {
            "methods": ["holiday_voucher", "paypal"],
            "amount_holiday_voucher": "50.00",
            "source_holiday_voucher": FIFTY,
            "amount_paypal": "30.00",
        },
    )
    checkout = Checkout.objects.get()
    assert checkout.status == "requires_action" and vouchers_left(merchant).held == 5000
    response = client.post(url(payer, f"cancel/{checkout.public_id}/"))
    assert response.status_code == 302
    html = client.get(response.url).content.decode()
    assert "You cancelled this payment. Nothing was charged." in html
    assert "Pay €80.00" in html
    checkout.refresh_from_db()
    assert checkout.status == "cancelled"
    assert (vouchers_left(merchant).held, vouchers_left(merchant).available) == (0, 5000)


@pytest.mark.django_db
def test_cancel_needs_a_post_and_the_payers_own_checkout(client, merchant, methods):
    payer, other = share(merchant), share(merchant)
    client.post(url(payer), {"methods": ["paypal"]})
    checkout = Checkout.objects.get()
    assert client.get(url(payer, f"cancel/{checkout.public_id}/")).status_code == 405
    assert client.post(url(other, f"cancel/{checkout.public_id}/")).status_code == 404
    checkout.refresh_from_db()
    assert checkout.status == "requires_action"


@pytest.mark.django_db
def test_the_balance_endpoint_tells_what_the_vouchers_cover(client, merchant, methods):
    payer = share(merchant, amount=4000)
    body = client.get(url(payer, "balance/"), {"method": "holiday_voucher", "source": FIFTY}).json()
    assert body == {
        "method": "holiday_voucher",
        "available": 5000,
        "usable": 4000,
        "currency": "EUR",
        "formatted": "€50.00",
        "usable_formatted": "€40.00",
    }


@pytest.mark.django_db
def test_the_balance_endpoint_names_an_unknown_beneficiary_in_french(client, merchant, methods):
    payer = share(merchant, "fr")
    response = client.get(url(payer, "balance/"), {"method": "holiday_voucher", "source": UNKNOWN})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_beneficiary" and error["field"] == "source"
    assert error["message"] == "Aucun compte Chèques-Vacances ne porte ce numéro de bénéficiaire."


@pytest.mark.django_db
def test_the_balance_endpoint_only_answers_a_real_link(client, merchant, methods):
    other_token = "x" * 32
    response = client.get(
        f"/pay/{other_token}/balance/", {"method": "holiday_voucher", "source": FIFTY}
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_another_participants_link_reads_only_their_own_request(
    client, merchant, other_merchant, methods
):
    # The other merchant never enabled vouchers: its payer's link gets no balance at all.
    stranger = share(other_merchant)
    response = client.get(url(stranger, "balance/"), {"method": "holiday_voucher", "source": FIFTY})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "payment_method_not_allowed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {},
        {"method": "card", "source": FIFTY},
        {"method": "nope", "source": FIFTY},
        {"method": "holiday_voucher"},
        {"method": "holiday_voucher", "source": "é☃"},
        {"method": "holiday_voucher", "source": "9" * 5000},
        {"method": ["holiday_voucher", "paypal"], "source": "'; DROP TABLE x; --"},
    ],
)
def test_the_balance_endpoint_refuses_junk_with_a_json_error(client, merchant, methods, query):
    response = client.get(url(share(merchant), "balance/"), query)
    assert response.status_code == 422
    assert set(response.json()["error"]) >= {"code", "message", "field"}


@pytest.mark.django_db
def test_the_balance_endpoint_is_rate_limited_per_link(client, merchant, methods, settings):
    settings.PAYER_BALANCE_RATE_LIMIT = "3/min"
    cache.clear()
    payer = share(merchant)
    query = {"method": "holiday_voucher", "source": UNKNOWN}
    codes = [client.get(url(payer, "balance/"), query).status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]
    limited = client.get(url(payer, "balance/"), query)
    assert limited.json()["error"]["code"] == "rate_limited" and limited["Retry-After"]
    # Another payer's link has its own budget.
    assert client.get(url(share(merchant), "balance/"), query).status_code == 422


@pytest.mark.django_db
def test_a_partially_refunded_payer_is_told_what_was_given_back(
    client, merchant, methods, tokenise
):
    payer = share(merchant, amount=3000)
    client.post(url(payer), {"methods": ["card"], "card_token": tokenise(SUCCEEDS)})
    payment_services.payment_request_refund(
        payment_request=payer.request,
        lines=[payment_services.RefundLine(participant=payer, amount=1000)],
    )
    payer.refresh_from_db()
    assert payer.status == "partially_refunded"
    html = client.get(url(payer)).content.decode()
    assert "You paid €30.00; €10.00 of it was refunded. Nothing more is due." in html


@pytest.mark.django_db
def test_the_page_shown_back_from_paypal_posts_a_new_attempt_to_the_payer_page(
    client, merchant, methods
):
    payer = share(merchant)
    response = client.post(url(payer), {"methods": ["paypal"]})
    back = client.post(response.url.split("?")[0], {"decision": "cancel"})
    html = client.get(back.url).content.decode()
    assert "/return/" in back.url
    assert f'<form method="post" action="/pay/{payer.link_token}/"' in html


@pytest.mark.django_db
def test_the_combined_page_reads_the_same_few_rows_whatever_the_methods(
    client, merchant, django_assert_max_num_queries
):
    payer = share(merchant)
    # One of these reads whether the merchant has its own Stripe account (cards then go there).
    with django_assert_max_num_queries(7) as card_only:
        client.get(url(payer))
    payment_services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    with django_assert_max_num_queries(len(card_only.captured_queries)) as combined:
        html = client.get(url(payer)).content.decode()
    assert "Left to pay" in html
    assert len(combined.captured_queries) == len(card_only.captured_queries)


@pytest.mark.django_db
def test_a_free_amount_paid_with_two_methods_takes_their_sum(client, merchant, methods, tokenise):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        participants=[ParticipantData(name="A", email="a@example.com")],
    )
    payer = pot.participants.get()
    token = tokenise(SUCCEEDS)
    refused = client.post(url(payer), combined_post(token, amount="90.00"))
    assert refused.status_code == 422
    assert "must add up to exactly €90.00" in refused.content.decode()
    assert Checkout.objects.count() == 0
    response = client.post(url(payer), combined_post(token, voucher="20.00", card="5.50"))
    assert response.status_code == 302 and "/receipt/" in response.url
    payer.refresh_from_db()
    assert payer.amount_paid == 2550


@pytest.mark.django_db
def test_a_refunded_payer_is_told_nothing_is_due_in_french(client, merchant, methods, tokenise):
    payer = share(merchant, "fr", amount=3000)
    client.post(url(payer), {"methods": ["card"], "card_token": tokenise(SUCCEEDS)})
    payment_services.payment_request_refund(payment_request=payer.request)
    payer.refresh_from_db()
    assert payer.status == "refunded"
    html = unescape(client.get(url(payer)).content.decode())
    assert "Votre paiement a été remboursé" in html and 'data-testid="state"' in html
    assert "Payer 30,00" not in html


@pytest.mark.django_db
def test_one_method_paying_part_of_a_fixed_share_is_refused(client, merchant, methods):
    payer = share(merchant)
    response = client.post(
        url(payer),
        {
            "methods": ["holiday_voucher"],
            "amount_holiday_voucher": "50.00",
            "source_holiday_voucher": FIFTY,
        },
    )
    assert response.status_code == 422
    assert "they must add up to exactly €80.00" in response.content.decode()
    assert Checkout.objects.count() == 0 and vouchers_left(merchant).held == 0
