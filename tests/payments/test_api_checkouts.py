"""GET /api/v1/payment-requests/{id} shows each participant's checkouts and their legs."""

import pytest

from payments import services
from payments.services import LegRequest
from tests.factories import make_request, participants
from tests.payments.conftest import DECLINED, SUCCEEDS

URL = "/api/v1/payment-requests"


@pytest.mark.django_db
def test_each_participant_lists_its_checkouts_with_their_legs(api, merchant, tokenise):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    pr = make_request(merchant, total_amount=16000, participants=participants(2, amount=8000))
    first, second = pr.participants.order_by("id")
    failed = services.checkout_start(participant=first, method="card", source=tokenise(DECLINED))
    paid = services.checkout_open(
        participant=first,
        legs=[
            LegRequest(method="holiday_voucher", source="1000000050", amount=5000),
            LegRequest(method="card", source=tokenise(SUCCEEDS), amount=3000),
        ],
    )

    body = api.get(f"{URL}/{pr.public_id}").json()

    by_id = {p["id"]: p for p in body["participants"]}
    assert by_id[second.public_id]["checkouts"] == []
    checkouts = by_id[first.public_id]["checkouts"]
    assert [(c["id"], c["status"]) for c in checkouts] == [
        (paid.public_id, "succeeded"),
        (failed.public_id, "failed"),
    ]
    assert checkouts[1]["failure_reason"] == "declined"
    legs = checkouts[0]["legs"]
    assert [
        (leg["method"], leg["amount"], leg["amount_refunded"], leg["status"]) for leg in legs
    ] == [
        ("holiday_voucher", 5000, 0, "captured"),
        ("card", 3000, 0, "captured"),
    ]
    assert all(leg["id"].startswith("lg_") for leg in legs)

    services.payment_request_refund(payment_request=pr)
    legs = api.get(f"{URL}/{pr.public_id}").json()["participants"][0]["checkouts"][0]["legs"]
    assert {leg["status"] for leg in legs} == {"refunded"}
    assert sum(leg["amount_refunded"] for leg in legs) == 8000


@pytest.mark.django_db
def test_the_list_shows_checkouts_too_and_never_another_merchant_s(
    api, other_api, merchant, tokenise
):
    pr = make_request(merchant)
    services.checkout_start(participant=pr.participants.first(), method="card", source=tokenise())
    rows = api.get(URL).json()["results"]
    assert rows[0]["participants"][0]["checkouts"][0]["status"] == "succeeded"
    assert other_api.get(f"{URL}/{pr.public_id}").status_code == 404
