"""The lenient readers: breakdown strings, dates, subscription settings, field names."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pushpay.api.errors import ApiError
from requests_app.centralpay.parsing import (
    Form,
    breakdown_object,
    centralpay_field,
    installments_from_subscription,
    lenient_datetime,
    subscription_field,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"amount":1000,"email":"a@b.c"}', {"amount": 1000, "email": "a@b.c"}),
        ("{amount:1000, email:a@b.c}", {"amount": 1000, "email": "a@b.c"}),
        ('{"amount":1000,"email":a@b.c}', {"amount": 1000, "email": "a@b.c"}),
        (
            "{ amount : 1000 , firstName : Jean Pierre , }",
            {"amount": 1000, "firstName": "Jean Pierre"},
        ),
        (
            "{lastName:\"Dupont, Martin\", note:'a:b'}",
            {"lastName": "Dupont, Martin", "note": "a:b"},
        ),
        ("{initiator:true, phone:+33612345678}", {"initiator": True, "phone": "+33612345678"}),
        ("{phone:0612345678, amount:0}", {"phone": "0612345678", "amount": 0}),
        ("{}", {}),
        ("", {}),
    ],
)
def test_breakdown_strings_are_read_strict_or_loose(text, expected):
    assert breakdown_object(text, "breakdown[0]") == expected


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",
        '"just a string"',
        "amount:1000",
        "{amount:{nested:1}}",
        "{amount:[1]}",
        '{email:"not closed}',
        "{amount}",
        "{:1}",
        '{"amount": ' + "[" * 100 + "]" * 100 + "}",
        "{" + "a:1," * 5000 + "}",
    ],
)
def test_unreadable_breakdown_strings_are_a_clear_422_on_their_field(text):
    with pytest.raises(ApiError) as caught:
        breakdown_object(text, "breakdown[2]")
    assert caught.value.status_code == 422
    assert caught.value.field == "breakdown[2]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2026-12-31T18:00:00.123456+01:00",
            datetime(2026, 12, 31, 17, 0, 0, 123456, tzinfo=UTC),
        ),
        ("2026-12-31T18:00:00.123456789Z", datetime(2026, 12, 31, 18, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-31T18:00:00+0100", datetime(2026, 12, 31, 17, 0, tzinfo=UTC)),
        ("2026-12-31T18:00:00.5-05:00", datetime(2026, 12, 31, 23, 0, 0, 500000, tzinfo=UTC)),
        ("2026-12-31 18:00", datetime(2026, 12, 31, 17, 0, tzinfo=UTC)),  # Paris, no offset
        ("2026-12-31T18:00:00.123456 01:00", datetime(2026, 12, 31, 17, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-31", datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)),  # end of day in Paris
    ],
)
def test_dates_with_microseconds_nanoseconds_and_offsets(text, expected):
    assert lenient_datetime(text, "deadline", time_zone="Europe/Paris") == expected


def test_a_microsecond_deadline_keeps_its_offset_until_stored():
    moment = lenient_datetime("2027-01-02T03:04:05.000006+05:30", "deadline", time_zone="UTC")
    assert moment.utcoffset() == timedelta(hours=5, minutes=30)
    assert moment.isoformat() == "2027-01-02T03:04:05.000006+05:30"
    assert moment.tzinfo == timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    "text",
    [
        "tomorrow",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-12-31T25:00:00Z",
        "2026-12-31T18:00:00+25:00",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "2026-12-31T18:00:00+01:00 trailing",
        "1" * 5000,
    ],
)
def test_bad_dates_are_a_422_on_their_field(text):
    with pytest.raises(ApiError) as caught:
        lenient_datetime(text, "linkExpirationDate", time_zone="Europe/Paris")
    assert (caught.value.status_code, caught.value.field) == (422, "linkExpirationDate")
    assert caught.value.code == "invalid_date"


def test_an_unknown_merchant_time_zone_reads_a_date_as_utc():
    moment = lenient_datetime("2026-12-31T18:00:00", "deadline", time_zone="Mars/Olympus")
    assert moment == datetime(2026, 12, 31, 18, 0, tzinfo=UTC)


def test_the_subscription_settings_map_to_our_installment_names():
    settings = installments_from_subscription(
        {
            "intervalUnit": "MONTH",
            "intervalCount": "2",
            "iterationCount": "4",
            "depositAmount": "2000",
            "feeAmount": "150",
        }
    )
    assert settings == {
        "count": 4,
        "interval_unit": "month",
        "interval_count": 2,
        "deposit_amount": 2000,
        "fee_amount": 150,
    }
    assert installments_from_subscription({"intervalUnit": "week", "iterationCount": "3"}) == {
        "count": 3,
        "interval_unit": "week",
        "interval_count": 1,
        "deposit_amount": 0,
        "fee_amount": 0,
    }


@pytest.mark.parametrize(
    ("subscription", "field"),
    [
        ({"intervalUnit": "MONTH"}, "subscription[iterationCount]"),
        ({"iterationCount": "3"}, "subscription[intervalUnit]"),
        ({"intervalUnit": "MONTH", "iterationCount": "3.5"}, "subscription[iterationCount]"),
        (
            {"intervalUnit": "MONTH", "iterationCount": "3", "feeAmount": "-1"},
            "subscription[feeAmount]",
        ),
        ({"subscriptionModelId": "7f0c…"}, "subscription[subscriptionModelId]"),
    ],
)
def test_wrong_subscription_settings_name_their_field(subscription, field):
    with pytest.raises(ApiError) as caught:
        installments_from_subscription(subscription)
    assert caught.value.field == field


def test_our_field_names_are_told_in_centralpay_words():
    assert centralpay_field("participants[3].email") == "breakdown[3].email"
    assert centralpay_field("participants[0].name") == "breakdown[0].firstName"
    assert centralpay_field("participants[1]") == "breakdown[1]"
    assert centralpay_field("reference") == "merchantPaymentRequestId"
    assert centralpay_field("expires_at") == "linkExpirationDate"
    assert centralpay_field("form") == "paymentFormTemplateId"
    assert centralpay_field(None) is None
    assert subscription_field("count") == "subscription[iterationCount]"
    assert subscription_field("interval_unit") == "subscription[intervalUnit]"
    assert subscription_field("amount") == "totalAmount"


def test_field_names_are_split_into_a_base_and_a_path():
    form = Form.of(
        [
            ("breakdown[0][email]", "a@b.c"),
            ("paymentMethod[]", "TRANSACTION"),
            ("a]b", "ignored"),
            ("totalAmount", "1"),
            ("totalAmount", " 2 "),
        ]
    )
    assert form.entries("breakdown") == [(("0", "email"), "a@b.c")]
    assert form.values("paymentMethod") == ["TRANSACTION"]
    assert form.scalar("totalAmount") == "2"
    assert form.scalar("missing") is None
