"""Operators list, inspect, credit, adjust and export wallets in the back office, in the
mode they are working in, as their role allows."""

import pytest

from payments.wallet import services as wallet_services
from payments.wallet.models import Wallet, WalletTransaction
from tests.factories import MembershipFactory


@pytest.fixture
def wallet(merchant):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="ann@example.com"
    )
    wallet_services.wallet_credit(wallet=wallet, amount=1200, reason="Welcome")
    return wallet


def login(client, merchant, role="admin"):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)


@pytest.mark.django_db
def test_an_admin_credits_and_adjusts_a_wallet_and_sees_the_ledger(client, merchant, wallet):
    login(client, merchant)
    url = f"/app/wallets/{wallet.public_id}/"

    response = client.post(
        url + "credit/", {"amount": "5,50", "reason": "Sorry", "expires_on": "2099-01-01"}
    )
    assert response.status_code == 302
    client.post(url + "adjust/", {"amount": "2", "direction": "remove", "reason": "Typo"})

    wallet.refresh_from_db()
    assert wallet.balance == 1200 + 550 - 200
    assert wallet_services.wallet_consistency_errors(wallet=wallet) == []
    html = client.get(url).content.decode()
    assert "Credit goodwill" in html and "Adjust the balance" in html
    assert "Sorry" in html and "Typo" in html and "2099-01-01" in html
    only = client.get(url, {"kind": "adjustment"}).content.decode()
    assert "Typo" in only and "Welcome" not in only
    export = client.get(url + "export.csv")
    assert export["Content-Type"].startswith("text/csv")
    rows = export.content.decode().splitlines()
    assert rows[0].startswith("entry_id,created_at,kind")
    assert [row.split(",")[2] for row in rows[1:]] == ["credit", "credit", "adjustment"]


@pytest.mark.django_db
def test_a_bad_amount_or_removing_too_much_is_a_clear_message_and_moves_nothing(
    client, merchant, wallet
):
    login(client, merchant)
    url = f"/app/wallets/{wallet.public_id}/"
    for data in (
        {"amount": "1e999", "reason": "x"},
        {"amount": "", "reason": "x"},
        {"amount": "50", "direction": "remove", "reason": "too much"},
        {"amount": "1", "reason": ""},
    ):
        response = client.post(url + "adjust/", data, follow=True)
        assert response.status_code == 200
        assert response.context["messages"]
    response = client.post(url + "credit/", {"amount": "1", "expires_on": "nope"}, follow=True)
    assert "Give the expiry as a date." in response.content.decode()
    assert WalletTransaction.objects.count() == 1


@pytest.mark.django_db
def test_viewers_and_agents_see_no_forms_and_are_refused(client, merchant, wallet):
    for role in ("viewer", "agent"):
        login(client, merchant, role)
        html = client.get(f"/app/wallets/{wallet.public_id}/").content.decode()
        assert "Credit goodwill" not in html
        assert "Open a wallet" not in client.get("/app/wallets/").content.decode()
        response = client.post(f"/app/wallets/{wallet.public_id}/credit/", {"amount": "1"})
        assert response.status_code == 403
    assert WalletTransaction.objects.count() == 1


@pytest.mark.django_db
def test_the_list_filters_by_holder_and_keeps_modes_and_merchants_apart(
    client, merchant, other_merchant, wallet, django_assert_max_num_queries
):
    wallet_services.wallet_create(merchant=merchant, livemode=False, holder_phone="+33612345678")
    wallet_services.wallet_create(merchant=merchant, livemode=True, holder_email="live@example.com")
    theirs = wallet_services.wallet_create(
        merchant=other_merchant, livemode=False, holder_email="theirs@example.com"
    )
    login(client, merchant)
    with django_assert_max_num_queries(12):
        html = client.get("/app/wallets/").content.decode()
    assert "ann@example.com" in html and "+33612345678" in html
    assert "live@example.com" not in html and "theirs@example.com" not in html
    filtered = client.get("/app/wallets/", {"holder": "+336"}).content.decode()
    assert "+33612345678" in filtered and "ann@example.com" not in filtered
    assert client.get(f"/app/wallets/{theirs.public_id}/").status_code == 404
    live = Wallet.objects.get(livemode=True)
    assert client.get(f"/app/wallets/{live.public_id}/").status_code == 404


@pytest.mark.django_db
def test_an_admin_opens_a_wallet_by_email_or_phone(client, merchant):
    login(client, merchant)
    response = client.post("/app/wallets/new/", {"holder": "Bob@Example.com"})
    assert response.status_code == 302
    client.post("/app/wallets/new/", {"holder": "+33 6 12 34 56 78"})
    again = client.post("/app/wallets/new/", {"holder": "bob@example.com"}, follow=True)
    assert "already has a wallet" in again.content.decode()
    assert sorted(Wallet.objects.values_list("holder_email", "holder_phone")) == [
        ("", "+33612345678"),
        ("bob@example.com", ""),
    ]


@pytest.mark.django_db
def test_an_admin_sets_the_cashback_rule_and_bad_values_are_refused(client, merchant):
    from payments.wallet.models import CashbackRule

    login(client, merchant)
    response = client.post(
        "/app/wallets/cashback/", {"rate": "2,5", "cap": "3", "valid_days": "90", "enabled": "on"}
    )
    assert response.status_code == 302
    rule = CashbackRule.objects.get(merchant=merchant)
    assert (rule.rate_bps, rule.cap, rule.valid_days, rule.enabled) == (250, 300, 90, True)
    page = client.get("/app/wallets/").content.decode()
    assert "2.5 % (250 basis points)" in page and 'value="2.5"' in page
    for data in (
        {"rate": "abc"},
        {"rate": "200"},
        {"rate": "1", "cap": "x"},
        {"rate": "1", "valid_days": "-1"},
    ):
        page = client.post("/app/wallets/cashback/", data, follow=True)
        assert page.context["messages"]
    rule.refresh_from_db()
    assert rule.rate_bps == 250
    client.post("/app/wallets/cashback/", {"rate": "2.5"})
    rule.refresh_from_db()
    assert rule.enabled is False
