"""GET/PATCH /api/v1/payment-methods: what a merchant offers and how payers may combine it."""

import pytest

from payments import services
from payments.models import Checkout
from payments.services import LegRequest
from pushpay.errors import InvalidInput
from tests.factories import make_request, participants

URL = "/api/v1/payment-methods"


@pytest.mark.django_db
def test_the_methods_and_their_defaults(api):
    body = api.get(URL).json()
    assert body["max_methods_per_payment"] == 3
    by_code = {m["code"]: m for m in body["methods"]}
    assert set(by_code) >= {"card", "holiday_voucher", "paypal"}
    assert (by_code["card"]["enabled"], by_code["holiday_voucher"]["enabled"]) == (True, False)
    assert by_code["holiday_voucher"]["combinable_with"] is None


@pytest.mark.django_db
def test_a_merchant_sets_its_combination_rules_and_the_checkout_follows_them(
    api, other_api, merchant, tokenise
):
    response = api.patch(
        f"{URL}/holiday_voucher",
        {"enabled": True, "combinable_with": ["card"], "min_leg_amount": 1000},
        format="json",
    )
    assert response.status_code == 200, response.content
    voucher = next(m for m in response.json()["methods"] if m["code"] == "holiday_voucher")
    assert (voucher["enabled"], voucher["combinable_with"], voucher["min_leg_amount"]) == (
        True,
        ["card"],
        1000,
    )
    # Another merchant's settings are untouched.
    other = next(m for m in other_api.get(URL).json()["methods"] if m["code"] == "holiday_voucher")
    assert (other["enabled"], other["combinable_with"]) == (False, None)

    services.payment_method_enable(merchant=merchant, method="paypal")
    payer = make_request(
        merchant, total_amount=8000, participants=participants(1, amount=8000)
    ).participants.get()
    with pytest.raises(InvalidInput) as exc:
        services.checkout_open(
            participant=payer,
            legs=[
                LegRequest(method="holiday_voucher", source="1000000050", amount=500),
                LegRequest(method="card", source=tokenise(), amount=7500),
            ],
        )
    assert exc.value.code == "leg_below_minimum"
    with pytest.raises(InvalidInput) as exc:
        services.checkout_open(
            participant=payer,
            legs=[
                LegRequest(method="holiday_voucher", source="1000000050", amount=5000),
                LegRequest(method="paypal", source="paypal", amount=3000),
            ],
        )
    assert exc.value.code == "combination_not_allowed"
    assert not Checkout.objects.exists()

    lifted = api.patch(f"{URL}/holiday_voucher", {"combinable_with": None}, format="json")
    voucher = next(m for m in lifted.json()["methods"] if m["code"] == "holiday_voucher")
    assert voucher["combinable_with"] is None

    assert (
        api.patch(URL, {"max_methods_per_payment": 2}, format="json").json()[
            "max_methods_per_payment"
        ]
        == 2
    )


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/nope", {"enabled": True}, 404, "not_found"),
        ("/card", {"enabled": "yes please"}, 422, None),
        ("/card", {"min_leg_amount": -1}, 422, "invalid_amount"),
        ("/card", {"min_leg_amount": "100"}, 422, "invalid_amount"),
        ("/card", {"combinable_with": ["card"]}, 422, "invalid"),
        ("/card", {"combinable_with": ["bitcoin"]}, 422, "unknown_payment_method"),
        ("/card", {"colour": "red"}, 400, "unknown_field"),
        ("", {"max_methods_per_payment": 9}, 422, "invalid"),
        ("", {"max_methods_per_payment": "2"}, 422, "invalid"),
    ],
)
@pytest.mark.django_db
def test_bad_settings_are_refused_and_change_nothing(api, path, body, status, code):
    before = api.get(URL).json()
    response = api.patch(URL + path, body, format="json")
    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code
    assert api.get(URL).json() == before
