"""Back-office pages: login required, merchant-scoped, constant query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import MembershipFactory, UserFactory, make_request, participants


@pytest.fixture
def operator_client(client, merchant):
    user = MembershipFactory(merchant=merchant).user
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_pages_need_a_login(client, merchant):
    pr = make_request(merchant)
    for url in ("/app/", f"/app/requests/{pr.public_id}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_a_login_without_a_merchant_is_refused(client):
    client.force_login(UserFactory())
    assert client.get("/app/").status_code == 403


@pytest.mark.django_db
def test_the_list_shows_only_the_operators_merchant(operator_client, merchant, other_merchant):
    make_request(merchant, reference="MINE-1")
    make_request(other_merchant, reference="THEIRS-1")
    html = operator_client.get("/app/").content.decode()
    assert "MINE-1" in html and "THEIRS-1" not in html


@pytest.mark.django_db
def test_another_merchants_request_is_a_404(operator_client, other_merchant):
    theirs = make_request(other_merchant)
    assert operator_client.get(f"/app/requests/{theirs.public_id}/").status_code == 404


@pytest.mark.django_db
def test_switching_to_a_merchant_one_does_not_belong_to_is_a_404(operator_client, other_merchant):
    response = operator_client.post("/app/merchant/switch/", {"slug": other_merchant.slug})
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_member_of_two_merchants_can_switch(client, merchant, other_merchant):
    user = MembershipFactory(merchant=merchant).user
    MembershipFactory(merchant=other_merchant, user=user)
    make_request(other_merchant, reference="THEIRS-2")
    client.force_login(user)
    client.post("/app/merchant/switch/", {"slug": other_merchant.slug})
    assert "THEIRS-2" in client.get("/app/").content.decode()


@pytest.mark.django_db
def test_list_and_detail_query_counts_do_not_grow(operator_client, merchant):
    small = make_request(
        merchant, reference="S", total_amount=1000, participants=participants(1, amount=1000)
    )
    operator_client.get("/app/")
    with CaptureQueriesContext(connection) as list_small:
        operator_client.get("/app/")
    with CaptureQueriesContext(connection) as detail_small:
        operator_client.get(f"/app/requests/{small.public_id}/")

    big = None
    for i in range(5):
        big = make_request(
            merchant,
            reference=f"B{i}",
            total_amount=30000,
            participants=participants(30, amount=1000),
        )
    with CaptureQueriesContext(connection) as list_big:
        operator_client.get("/app/")
    with CaptureQueriesContext(connection) as detail_big:
        operator_client.get(f"/app/requests/{big.public_id}/")

    assert len(list_big) == len(list_small)
    assert len(detail_big) == len(detail_small)


@pytest.mark.django_db
def test_the_payer_page_states_what_is_due_and_final_states(client, merchant):
    from requests_app import services

    pr = make_request(merchant)
    first, second, _ = pr.participants.all()
    page = client.get(f"/pay/{first.link_token}/").content.decode()
    assert "€10.00" in page
    services.participant_record_payment(participant=first, amount=1000)
    assert "You have paid" in client.get(f"/pay/{first.link_token}/").content.decode()
    services.payment_request_cancel(payment_request=pr)
    assert "cancelled" in client.get(f"/pay/{second.link_token}/").content.decode()


@pytest.mark.django_db
def test_superusers_can_inspect_requests_in_the_admin_but_not_change_them(client, merchant):
    pr = make_request(merchant)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/requests_app/paymentrequest/").status_code == 200
    page = client.get(f"/admin/requests_app/paymentrequest/{pr.pk}/change/")
    assert page.status_code == 200
    assert pr.public_id in page.content.decode()
    client.post(f"/admin/requests_app/paymentrequest/{pr.pk}/change/", {"status": "paid"})
    pr.refresh_from_db()
    assert pr.status == "open"


@pytest.mark.django_db
def test_the_qr_code_is_a_png_of_the_payment_link_for_api_and_back_office(
    api, other_api, operator_client, merchant
):
    import io

    from PIL import Image

    pr = make_request(merchant)
    payer = pr.participants.first()
    path = f"/api/v1/payment-requests/{pr.public_id}/participants/{payer.public_id}/qr"
    response = api.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size[0] >= 200
    assert other_api.get(path).status_code == 404
    assert (
        api.get(f"/api/v1/payment-requests/{pr.public_id}/participants/pa_x/qr").status_code == 404
    )

    page = operator_client.get(
        f"/app/requests/{pr.public_id}/participants/{payer.public_id}/qr.png"
    )
    assert (page.status_code, page["Content-Type"]) == (200, "image/png")
    assert page.content == response.content  # the same link, the same code


@pytest.mark.django_db
def test_form_answers_show_in_the_back_office_and_the_api(api, operator_client, merchant):
    from smartforms.services import form_create, submission_create

    form = form_create(
        merchant=merchant,
        name="F",
        fields=[{"key": "company", "type": "text", "label": {"en": "Company"}}],
    )
    pr = make_request(merchant, form=form)
    payer = pr.participants.first()
    submission_create(
        form_version=form.current_version,
        answers={"company": "Acme <b>"},
        language="en",
        participant_public_id=payer.public_id,
    )

    html = operator_client.get(f"/app/requests/{pr.public_id}/").content.decode()
    assert "Acme &lt;b&gt;" in html
    data = api.get(f"/api/v1/payment-requests/{pr.public_id}").json()
    assert data["participants"][0]["form_answers"] == {"company": "Acme <b>"}
    assert data["participants"][1]["form_answers"] is None


@pytest.mark.django_db
def test_the_csv_export_has_amounts_and_answers_and_defuses_formulas(
    operator_client, merchant, other_merchant
):
    import csv
    import io

    from smartforms.services import form_create, submission_create

    form = form_create(
        merchant=merchant,
        name="F",
        fields=[
            {"key": "company", "type": "text", "label": {"en": "Company"}},
            {
                "key": "diet",
                "type": "multiple_choice",
                "label": {"en": "Diet"},
                "choices": [
                    {"value": "veg", "label": {"en": "Veg"}},
                    {"value": "gf", "label": {"en": "GF"}},
                ],
            },
        ],
    )
    pr = make_request(merchant, form=form, reference="EXP-1")
    payer = pr.participants.first()
    submission_create(
        form_version=form.current_version,
        answers={"company": '=HYPERLINK("x")', "diet": ["veg", "gf"]},
        language="en",
        participant_public_id=payer.public_id,
    )

    response = operator_client.get(f"/app/requests/{pr.public_id}/export.csv")

    assert response.status_code == 200
    assert "EXP-1-participants.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 3
    assert rows[0]["participant_id"] == payer.public_id
    assert (rows[0]["amount"], rows[0]["amount_paid"], rows[0]["currency"]) == ("1000", "0", "EUR")
    assert rows[0]["company"] == '\'=HYPERLINK("x")'
    assert rows[0]["diet"] == "veg, gf"
    assert rows[1]["company"] == ""
    theirs = make_request(other_merchant)
    assert operator_client.get(f"/app/requests/{theirs.public_id}/export.csv").status_code == 404


@pytest.mark.django_db
def test_the_csv_export_of_a_reference_with_a_line_break_is_a_download_not_a_500(
    operator_client, merchant
):
    # Stored before references were checked: the row exists, its export must still work.
    pr = make_request(merchant, reference="OK")
    type(pr).objects.filter(pk=pr.pk).update(reference='EVIL\r\nSet-Cookie: x=1"\u202e')

    response = operator_client.get(f"/app/requests/{pr.public_id}/export.csv")

    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "\u202e" not in disposition
    assert "EVIL__Set-Cookie: x=1__-participants.csv" in disposition
