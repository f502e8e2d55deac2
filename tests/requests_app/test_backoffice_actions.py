"""The back office's daily job: find requests, create one, and act on it (deadline, reminders,
participants, cancel, refund), each through the same services as the API."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from merchants.models import OperatorPreference
from payments import services as payment_services
from requests_app.models import PaymentRequest
from tests.factories import MembershipFactory, make_request, participants
from tests.payments.conftest import tokenise  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
CARDS = ["4242424242424242", "5555555555554444", "4012888888881881"]


@pytest.fixture
def operator_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)
    return client


def as_role(client, merchant, role):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)
    return client


def paid_request(merchant, tokenise, **overrides):  # noqa: F811
    payment_request = make_request(merchant, **overrides)
    for participant, card in zip(payment_request.participants.all(), CARDS, strict=True):
        checkout = payment_services.checkout_start(
            participant=participant, method="card", source=tokenise(card)
        )
        assert checkout.status == "succeeded"
    payment_request.refresh_from_db()
    return payment_request


def new_request_post(**overrides) -> dict:
    data = {
        "reference": "DINNER-42",
        "description": "Team dinner",
        "currency": "EUR",
        "language": "fr",
        "amount_mode": "fixed",
        "total_amount": "50,00",
        "capture_mode": "immediate",
        "participants-TOTAL_FORMS": "2",
        "participants-INITIAL_FORMS": "0",
        "participants-MIN_NUM_FORMS": "1",
        "participants-MAX_NUM_FORMS": "1000",
        "participants-0-name": "Ann Martin",
        "participants-0-email": "ann@example.com",
        "participants-0-amount": "25",
        "participants-1-name": "Bob Durand",
        "participants-1-phone": "+33612345678",
        "participants-1-amount": "25.00",
    }
    data.update(overrides)
    return data


# --- The list ---------------------------------------------------------------------------------


def test_the_search_finds_part_of_a_payers_name_in_any_case(operator_client, merchant):
    make_request(merchant, reference="ALPHA", participants=participants(3, amount=1000))
    other = make_request(
        merchant,
        reference="BETA",
        total_amount=1000,
        participants=[
            participants(1, amount=1000)[0].__class__(
                name="Zoé Lefèvre", email="zoe@example.org", amount=1000
            )
        ],
    )
    html = operator_client.get("/app/", {"q": "LEFÈ"}).content.decode()
    assert "BETA" in html and "ALPHA" not in html
    for q in ("zoe@EXAMPLE", "eta", "bet"):
        html = operator_client.get("/app/", {"q": q}).content.decode()
        assert other.reference in html and "ALPHA" not in html, q


def test_two_matching_payers_list_their_request_once(operator_client, merchant):
    make_request(merchant, reference="TWICE")
    html = operator_client.get("/app/", {"q": "payer"}).content.decode()
    assert html.count(">TWICE</a>") == 1


def test_filters_by_status_amount_and_dates_in_the_merchants_zone(operator_client, merchant):
    small = make_request(
        merchant, reference="SMALL", total_amount=1000, participants=participants(1, amount=1000)
    )
    make_request(
        merchant, reference="BIG", total_amount=90000, participants=participants(3, amount=30000)
    )
    page = operator_client.get("/app/", {"amount_max": "10,00"}).content.decode()
    assert "SMALL" in page and "BIG" not in page
    page = operator_client.get("/app/", {"amount_min": "100"}).content.decode()
    assert "BIG" in page and "SMALL" not in page
    page = operator_client.get("/app/", {"status": "paid"}).content.decode()
    assert "SMALL" not in page
    # Created 23:30 UTC on the 1st is the 2nd in Paris: the day is the merchant's.
    PaymentRequest.objects.filter(pk=small.pk).update(
        created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    )
    page = operator_client.get("/app/", {"created_from": "2026-03-02", "created_to": "2026-03-02"})
    assert "SMALL" in page.content.decode() and "BIG" not in page.content.decode()
    page = operator_client.get("/app/", {"created_to": "2026-03-01"}).content.decode()
    assert "SMALL" not in page


def test_paid_with_filters_on_the_method_that_took_money(operator_client, merchant, tokenise):  # noqa: F811
    paid_request(merchant, tokenise, reference="BY-CARD")
    make_request(merchant, reference="UNPAID")
    page = operator_client.get("/app/", {"method": "card"}).content.decode()
    assert "BY-CARD" in page and "UNPAID" not in page


def test_columns_sort_both_ways_and_say_so(operator_client, merchant):
    make_request(merchant, reference="AAA")
    make_request(merchant, reference="ZZZ")
    up = operator_client.get("/app/", {"sort": "reference"}).content.decode()
    down = operator_client.get("/app/", {"sort": "-reference"}).content.decode()
    assert up.index(">AAA<") < up.index(">ZZZ<")
    assert down.index(">ZZZ<") < down.index(">AAA<")
    assert 'aria-sort="ascending"' in up and 'aria-sort="descending"' in down


@pytest.mark.parametrize(
    "query",
    [
        {"q": "x" * 5000},
        {"created_from": "0001-01-01", "created_to": "9999-12-31"},
        {"created_from": "not a date"},
        {"amount_min": "1e999"},
        {"amount_max": "-5"},
        {"status": "nope"},
        {"scenario": "sc_missing"},
        {"method": "bitcoin"},
        {"sort": "secret_hash"},
        {"page": "999999"},
    ],
)
def test_junk_in_the_query_string_is_never_a_500(operator_client, merchant, query):
    make_request(merchant, reference="STILL-HERE")
    response = operator_client.get("/app/", query)
    assert response.status_code == 200


def test_the_list_takes_as_many_queries_for_fifty_rows_as_for_one(operator_client, merchant):
    make_request(merchant, reference="ONE")
    operator_client.get("/app/", {"q": "payer", "sort": "-total"})
    with CaptureQueriesContext(connection) as one:
        operator_client.get("/app/", {"q": "payer", "sort": "-total"})
    for i in range(49):
        make_request(merchant, reference=f"MANY-{i}")
    with CaptureQueriesContext(connection) as fifty:
        response = operator_client.get("/app/", {"q": "payer", "sort": "-total", "page": "2"})
    assert response.status_code == 200
    assert len(fifty) == len(one)


def test_dates_show_in_the_merchants_time_zone_with_its_name(operator_client, merchant):
    merchant.time_zone = "America/Montreal"
    merchant.save()
    pr = make_request(merchant, reference="TZ")
    PaymentRequest.objects.filter(pk=pr.pk).update(
        deadline=datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
    )
    html = operator_client.get(f"/app/requests/{pr.public_id}/").content.decode()
    assert "2027-01-15 07:00" in html and ">EST</abbr>" in html


# --- Language ---------------------------------------------------------------------------------


def test_the_language_switch_is_remembered_for_the_user(client, merchant):
    user = MembershipFactory(merchant=merchant).user
    client.force_login(user)
    assert "Payment requests" in client.get("/app/").content.decode()
    response = client.post("/app/language/", {"language": "fr", "next": "/app/?q=x"})
    assert response.status_code == 302 and response.url == "/app/?q=x"
    assert OperatorPreference.objects.get(user=user).language == "fr"
    assert "Demandes de paiement" in client.get("/app/").content.decode()
    # Another browser: no cookie, no session; the choice follows the user.
    client.logout()
    client.cookies.clear()
    client.force_login(user)
    assert "Demandes de paiement" in client.get("/app/").content.decode()


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x"])
def test_the_language_switch_never_redirects_elsewhere(operator_client, next_url):
    response = operator_client.post("/app/language/", {"language": "en", "next": next_url})
    assert response.status_code == 302 and response.url == "/app/"


@pytest.mark.parametrize("language", ["de", "", "../x", "fr" * 100])
def test_an_unknown_language_is_a_400(operator_client, language):
    assert operator_client.post("/app/language/", {"language": language}).status_code == 400


# --- New request ------------------------------------------------------------------------------


def test_a_request_made_in_the_form_is_made_by_the_service(operator_client, merchant):
    response = operator_client.post("/app/requests/new/", new_request_post())
    created = PaymentRequest.objects.get(reference="DINNER-42")
    assert response.status_code == 302 and response.url == f"/app/requests/{created.public_id}/"
    assert created.total_amount == 5000 and not created.livemode
    assert [(p.name, p.amount, p.phone) for p in created.participants.all()] == [
        ("Ann Martin", 2500, ""),
        ("Bob Durand", 2500, "+33612345678"),
    ]


def test_split_equally_gives_the_remainder_to_the_first_rows(operator_client, merchant):
    data = new_request_post(
        total_amount="100,01",
        split_equally="on",
        **{"participants-0-amount": "", "participants-1-amount": "999"},
    )
    assert operator_client.post("/app/requests/new/", data).status_code == 302
    created = PaymentRequest.objects.get(reference="DINNER-42")
    assert [p.amount for p in created.participants.all()] == [5001, 5000]


def test_every_error_is_shown_at_its_field_at_once(operator_client, merchant):
    data = new_request_post(
        reference="",
        total_amount="abc",
        **{
            "participants-0-email": "not-an-email",
            "participants-1-name": "",
        },
    )
    response = operator_client.post("/app/requests/new/", data)
    assert response.status_code == 422
    form = response.context["form"]
    rows = response.context["formset"].forms
    assert set(form.errors) >= {"reference", "total_amount"}
    assert "name" in rows[1].errors
    assert not PaymentRequest.objects.exists()
    html = response.content.decode()
    assert 'aria-invalid="true"' in html


def test_a_refusal_of_the_service_lands_on_its_row(operator_client, merchant):
    data = new_request_post(**{"participants-1-phone": "12"})
    response = operator_client.post("/app/requests/new/", data)
    assert response.status_code == 422
    assert "phone" in response.context["formset"].forms[1].errors
    data = new_request_post(total_amount="60")
    response = operator_client.post("/app/requests/new/", data)
    assert response.status_code == 422
    assert response.context["formset"].non_form_errors()
    assert not PaymentRequest.objects.exists()


def test_a_duplicate_reference_is_an_error_at_the_reference(operator_client, merchant):
    assert operator_client.post("/app/requests/new/", new_request_post()).status_code == 302
    response = operator_client.post("/app/requests/new/", new_request_post())
    assert response.status_code == 422 and "reference" in response.context["form"].errors
    assert PaymentRequest.objects.count() == 1


def test_without_javascript_add_a_participant_brings_one_more_empty_row(operator_client):
    response = operator_client.post("/app/requests/new/", new_request_post(add_row="1"))
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 3
    assert not PaymentRequest.objects.exists()


def test_removed_and_blank_rows_are_not_created(operator_client, merchant):
    data = new_request_post(
        total_amount="25",
        **{
            "participants-TOTAL_FORMS": "3",
            "participants-1-DELETE": "on",
        },
    )
    assert operator_client.post("/app/requests/new/", data).status_code == 302
    created = PaymentRequest.objects.get()
    assert [p.name for p in created.participants.all()] == ["Ann Martin"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"participants-TOTAL_FORMS": "x"},
        {"participants-TOTAL_FORMS": "100000"},
        {"amount_mode": "both"},
        {"scenario": "sc_nope"},
        {"allowed_payment_methods": "bitcoin"},
        {"deadline": "2020-01-01T10:00"},
        {"currency": "XXX1"},
        {"total_amount": "9" * 40},
    ],
)
def test_junk_posted_to_the_form_is_a_4xx(operator_client, overrides):
    response = operator_client.post("/app/requests/new/", new_request_post(**overrides))
    assert 400 <= response.status_code < 500
    assert not PaymentRequest.objects.exists()


def test_the_form_creates_in_the_mode_of_the_toggle(operator_client, merchant, live_cards):
    operator_client.post("/app/mode/", {"mode": "live"})
    assert operator_client.post("/app/requests/new/", new_request_post()).status_code == 302
    assert PaymentRequest.objects.get().livemode is True


# --- Acting on a request ----------------------------------------------------------------------


def test_the_deadline_changes_and_a_past_one_is_refused(operator_client, merchant):
    pr = make_request(merchant)
    later = timezone.localtime(timezone.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    operator_client.post(f"/app/requests/{pr.public_id}/deadline/", {"deadline": later})
    pr.refresh_from_db()
    assert pr.deadline > timezone.now() + timedelta(days=9)
    response = operator_client.post(
        f"/app/requests/{pr.public_id}/deadline/", {"deadline": "2020-01-01T10:00"}, follow=True
    )
    assert "The deadline is in the past." in response.content.decode()
    pr.refresh_from_db()
    assert pr.deadline > timezone.now()


def test_reminders_pause_and_resume(operator_client, merchant):
    pr = make_request(merchant)
    operator_client.post(f"/app/requests/{pr.public_id}/reminders/", {"paused": "1"})
    pr.refresh_from_db()
    assert pr.notifications_paused
    operator_client.post(f"/app/requests/{pr.public_id}/reminders/", {"paused": "0"})
    pr.refresh_from_db()
    assert not pr.notifications_paused
    bad = operator_client.post(f"/app/requests/{pr.public_id}/reminders/", {"paused": "yes"})
    assert bad.status_code == 400


def test_a_participant_is_added_and_removed(operator_client, merchant):
    pr = make_request(merchant)
    operator_client.post(
        f"/app/requests/{pr.public_id}/participants/new/",
        {"name": "Cleo", "email": "cleo@example.com", "amount": "12,50"},
    )
    pr.refresh_from_db()
    cleo = pr.participants.get(name="Cleo")
    assert (cleo.amount, pr.total_amount) == (1250, 4250)
    confirm = operator_client.get(
        f"/app/requests/{pr.public_id}/participants/{cleo.public_id}/remove/"
    )
    assert confirm.status_code == 200 and "Cleo" in confirm.content.decode()
    operator_client.post(f"/app/requests/{pr.public_id}/participants/{cleo.public_id}/remove/")
    cleo.refresh_from_db()
    assert cleo.status == "cancelled"


def test_a_bad_participant_is_an_error_message_and_nothing_is_added(operator_client, merchant):
    pr = make_request(merchant)
    response = operator_client.post(
        f"/app/requests/{pr.public_id}/participants/new/",
        {"name": "Dan", "email": "nope", "amount": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert pr.participants.count() == 3


def test_cancel_asks_first_then_cancels(operator_client, merchant):
    pr = make_request(merchant)
    assert operator_client.get(f"/app/requests/{pr.public_id}/cancel/").status_code == 200
    pr.refresh_from_db()
    assert pr.status == "open"
    response = operator_client.post(
        f"/app/requests/{pr.public_id}/cancel/", {"reason": "Event off"}, follow=True
    )
    pr.refresh_from_db()
    assert pr.status == "cancelled"
    assert "The request is cancelled." in response.content.decode()
    again = operator_client.post(f"/app/requests/{pr.public_id}/cancel/", follow=True)
    assert again.status_code == 200  # a clear message, not a 500


def test_a_refund_shows_a_confirmation_before_moving_money(operator_client, merchant, tokenise):  # noqa: F811
    pr = paid_request(merchant, tokenise)
    response = operator_client.post(f"/app/requests/{pr.public_id}/refund/", {"scope": "all"})
    assert response.status_code == 200 and response.context["confirm"]["total"] == 3000
    pr.refresh_from_db()
    assert pr.amount_refunded == 0
    token = response.context["confirm"]["token"]
    operator_client.post(
        f"/app/requests/{pr.public_id}/refund/",
        {"scope": "all", "confirmed": "1", "token": token},
    )
    pr.refresh_from_db()
    assert (pr.amount_refunded, pr.status) == (3000, "refunded")


def test_a_partial_refund_of_one_participant(operator_client, merchant, tokenise):  # noqa: F811
    pr = paid_request(merchant, tokenise)
    first = pr.participants.order_by("position").first()
    fields = {
        "scope": "participants",
        f"refund_{first.public_id}": "on",
        f"amount_{first.public_id}": "4,00",
    }
    step = operator_client.post(f"/app/requests/{pr.public_id}/refund/", fields)
    assert step.context["confirm"]["total"] == 400
    operator_client.post(
        f"/app/requests/{pr.public_id}/refund/",
        {**fields, "confirmed": "1", "token": step.context["confirm"]["token"]},
    )
    first.refresh_from_db()
    assert (first.amount_refunded, first.status) == (400, "partially_refunded")


def test_a_double_submitted_refund_refunds_once(operator_client, merchant, tokenise):  # noqa: F811
    pr = paid_request(merchant, tokenise)
    first = pr.participants.order_by("position").first()
    fields = {
        "scope": "participants",
        f"refund_{first.public_id}": "on",
        f"amount_{first.public_id}": "1",
        "confirmed": "1",
        "token": "t" * 32,
    }
    operator_client.post(f"/app/requests/{pr.public_id}/refund/", fields)
    response = operator_client.post(f"/app/requests/{pr.public_id}/refund/", fields, follow=True)
    first.refresh_from_db()
    assert first.amount_refunded == 100
    assert "already sent" in response.content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        {"scope": "participants"},
        {"scope": "everything"},
        {"scope": "all", "confirmed": "1"},
        {"scope": "all", "confirmed": "1", "token": "short"},
        {"scope": "all", "confirmed": "1", "token": "é" * 30},
    ],
)
def test_junk_refund_posts_are_4xx_and_move_nothing(operator_client, merchant, tokenise, fields):  # noqa: F811
    pr = paid_request(merchant, tokenise)
    response = operator_client.post(f"/app/requests/{pr.public_id}/refund/", fields)
    assert 400 <= response.status_code < 500
    pr.refresh_from_db()
    assert pr.amount_refunded == 0


def test_refunding_more_than_was_paid_is_an_error_at_the_page(operator_client, merchant, tokenise):  # noqa: F811
    pr = paid_request(merchant, tokenise)
    first = pr.participants.order_by("position").first()
    response = operator_client.post(
        f"/app/requests/{pr.public_id}/refund/",
        {
            "scope": "participants",
            f"refund_{first.public_id}": "on",
            f"amount_{first.public_id}": "50",
            "confirmed": "1",
            "token": "u" * 32,
        },
        follow=True,
    )
    assert response.status_code == 200
    pr.refresh_from_db()
    assert pr.amount_refunded == 0


@pytest.mark.parametrize(
    ("role", "allowed"), [("admin", True), ("agent", False), ("viewer", False)]
)
def test_only_admins_and_owners_may_refund(client, merchant, tokenise, role, allowed):  # noqa: F811
    pr = paid_request(merchant, tokenise)
    as_role(client, merchant, role)
    page = client.get(f"/app/requests/{pr.public_id}/").content.decode()
    assert ('data-testid="refund-link"' in page) is allowed
    response = client.post(
        f"/app/requests/{pr.public_id}/refund/",
        {"scope": "all", "confirmed": "1", "token": "v" * 32},
    )
    assert (response.status_code != 403) is allowed
    pr.refresh_from_db()
    assert (pr.amount_refunded == 3000) is allowed


@pytest.mark.parametrize(("role", "allowed"), [("agent", True), ("viewer", False)])
def test_agents_may_cancel_and_viewers_may_not(client, merchant, role, allowed):
    pr = make_request(merchant)
    as_role(client, merchant, role)
    page = client.get(f"/app/requests/{pr.public_id}/").content.decode()
    assert ('data-testid="cancel-link"' in page) is allowed
    response = client.post(f"/app/requests/{pr.public_id}/cancel/")
    assert (response.status_code == 403) is not allowed
    pr.refresh_from_db()
    assert (pr.status == "cancelled") is allowed


ACTIONS = [
    ("post", "deadline/", {"deadline": ""}),
    ("post", "reminders/", {"paused": "1"}),
    ("get", "cancel/", {}),
    ("post", "cancel/", {}),
    ("get", "refund/", {}),
    ("post", "refund/", {"scope": "all", "confirmed": "1", "token": "w" * 32}),
    ("post", "participants/new/", {"name": "X", "email": "x@example.com", "amount": "1"}),
]


@pytest.mark.parametrize(("method", "path", "data"), ACTIONS)
def test_another_merchants_or_the_other_modes_request_is_a_404(
    operator_client, merchant, other_merchant, live_cards, method, path, data
):
    theirs = make_request(other_merchant)
    live = make_request(merchant, livemode=True)
    for pr in (theirs, live):
        response = getattr(operator_client, method)(f"/app/requests/{pr.public_id}/{path}", data)
        assert response.status_code == 404
        pr.refresh_from_db()
        assert pr.status == "open" and not pr.notifications_paused


def test_the_page_shows_the_timeline_and_planned_messages(operator_client, merchant, tokenise):  # noqa: F811
    pr = paid_request(merchant, tokenise)
    html = operator_client.get(f"/app/requests/{pr.public_id}/").content.decode()
    assert 'data-testid="timeline"' in html
    assert "Request created" in html and "Payment received" in html
    assert "Open → Partially paid" in html


def test_the_form_binds_the_scenario_and_the_smart_form_and_plans_the_messages(
    operator_client, merchant, email_template, settings
):
    from notifications.models import Dispatch
    from smartforms.services import form_create
    from tests.scenarios.helpers import make_scenario, step

    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    scenario = make_scenario(merchant, [step("request_created", email_template)])
    form = form_create(
        merchant=merchant,
        name="Diet",
        fields=[{"key": "diet", "type": "text", "label": {"en": "Diet"}}],
    )
    data = new_request_post(scenario=scenario.public_id, form=form.public_id)
    assert operator_client.post("/app/requests/new/", data).status_code == 302
    created = PaymentRequest.objects.get()
    assert created.form_version == form.current_version
    assert set(Dispatch.objects.filter(request=created).values_list("recipient", flat=True)) >= {
        "ann@example.com"
    }
    page = operator_client.get(f"/app/requests/{created.public_id}/").content.decode()
    assert 'data-testid="messages"' in page and "ann@example.com" in page


def test_another_merchants_scenario_is_refused_at_its_field(
    operator_client, merchant, other_merchant
):
    from tests.routes import _template
    from tests.scenarios.helpers import make_scenario, step

    their_template = _template(other_merchant, name="Theirs")
    theirs = make_scenario(other_merchant, [step("request_created", their_template)])
    response = operator_client.post(
        "/app/requests/new/", new_request_post(scenario=theirs.public_id)
    )
    assert response.status_code == 422 and "scenario" in response.context["form"].errors
    assert not PaymentRequest.objects.exists()
