"""Headers and privacy in production mode: a Content-Security-Policy everywhere, public
payer pages kept out of search indexes, safe export file names, per-address rate limits on
the public endpoints, and a favicon."""

import pytest
import time_machine
from django.test import Client

from pushpay.middleware import CONTENT_SECURITY_POLICY
from tests.factories import MembershipFactory, make_request
from tests.payments.conftest import SUCCEEDS, TOKENS_URL, card_details

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.fixture
def pr(merchant):
    return make_request(merchant, public_progress=True)


def test_the_policy_forbids_inline_scripts_framing_and_plugins():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    # The pay form's answer redirects to Stripe Checkout or PayPal's approval page, and
    # form-action governs it.
    assert directives["form-action"] == (
        "'self' https://checkout.stripe.com https://www.paypal.com https://www.sandbox.paypal.com"
    )
    assert "unsafe" not in directives["script-src"]


def test_form_action_follows_the_configured_checkout_origins(client, settings):
    settings.STRIPE_CHECKOUT_ORIGINS = ["https://checkout.example.test"]
    settings.PAYPAL_CHECKOUT_ORIGINS = ["https://paypal.example.test"]
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["form-action"] == (
        "'self' https://checkout.example.test https://paypal.example.test"
    )
    assert directives["script-src"] == "'self'"


def test_every_kind_of_page_carries_the_policy(client, merchant, pr):
    payer = pr.participants.first()
    client.force_login(MembershipFactory(merchant=merchant).user)
    for url in [
        "/accounts/login/",
        "/app/",
        f"/app/requests/{pr.public_id}/",
        f"/pay/{payer.link_token}/",
        f"/progress/{pr.progress_token}/",
        "/api/v1/docs/",
        "/admin/login/",
        "/app/nothing-here/",
        "/healthz",
    ]:
        response = client.get(url)
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url


def test_payer_progress_and_receipt_pages_are_not_indexed(client, pr, tokenise):
    payer = pr.participants.first()
    paid = client.post(f"/pay/{payer.link_token}/", {"card_token": tokenise(SUCCEEDS)})
    assert paid.status_code == 302
    for url in [f"/pay/{payer.link_token}/", f"/progress/{pr.progress_token}/", paid.url]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["X-Robots-Tag"] == "noindex, nofollow", url
        assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()


def test_the_3ds_page_is_not_indexed(client, pr, tokenise):
    from tests.payments.conftest import CHALLENGE

    payer = pr.participants.first()
    started = client.post(f"/pay/{payer.link_token}/", {"card_token": tokenise(CHALLENGE)})
    assert "/sandbox/3ds/" in started.url
    page = client.get(started.url)
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in page.content.decode()


def test_back_office_pages_are_not_marked_noindex(client):
    assert "X-Robots-Tag" not in client.get("/accounts/login/")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (
            "Séjour-été",
            'attachment; filename="Sejour-ete-participants.csv"; '
            "filename*=utf-8''S%C3%A9jour-%C3%A9t%C3%A9-participants.csv",
        ),
        ("東京-7", "attachment; filename=\"-7-participants.csv\"; filename*=utf-8''"),
        ("INV-42", 'attachment; filename="INV-42-participants.csv"'),
        ('a"b', 'attachment; filename="a_b-participants.csv"'),
    ],
)
def test_the_csv_export_names_the_file_after_any_reference(client, merchant, reference, expected):
    pr = make_request(merchant, reference=reference)
    client.force_login(MembershipFactory(merchant=merchant).user)
    response = client.get(f"/app/requests/{pr.public_id}/export.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(expected)


# --- Rate limits ---------------------------------------------------------------------------------


@pytest.fixture
def limit(settings):
    settings.PUBLIC_RATE_LIMIT = "3/min"


def tokenise_from(client, ip, **headers):
    return client.post(
        TOKENS_URL, card_details(), content_type="application/json", REMOTE_ADDR=ip, **headers
    )


@time_machine.travel("2026-03-02 10:00:05", tick=False)
def test_the_tokeniser_answers_429_with_retry_after_past_the_limit(client, limit):
    assert [tokenise_from(client, "192.0.2.10").status_code for _ in range(3)] == [201] * 3
    refused = tokenise_from(client, "192.0.2.10")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "55"
    assert tokenise_from(client, "192.0.2.11").status_code == 201  # another address


def test_the_window_ends_and_the_address_may_call_again(client, limit):
    with time_machine.travel("2026-03-02 10:01:30", tick=False) as traveller:
        for _ in range(3):
            tokenise_from(client, "192.0.2.20")
        assert tokenise_from(client, "192.0.2.20").status_code == 429
        traveller.move_to("2026-03-02 10:02:00")
        assert tokenise_from(client, "192.0.2.20").status_code == 201


@time_machine.travel("2026-03-02 10:03:05", tick=False)
def test_link_lookups_are_limited_too(client, limit, pr):
    payer = pr.participants.first()
    urls = [
        f"/pay/{payer.link_token}/",
        f"/progress/{pr.progress_token}/",
        "/pay/not-a-token/",
    ]
    statuses = [client.get(url, REMOTE_ADDR="192.0.2.30").status_code for url in urls]
    assert statuses == [200, 200, 404]
    assert client.get(urls[0], REMOTE_ADDR="192.0.2.30").status_code == 429


@time_machine.travel("2026-03-02 10:04:05", tick=False)
def test_x_forwarded_for_does_not_reset_the_count_without_a_tls_proxy(client, limit):
    for n in range(3):
        tokenise_from(client, "192.0.2.40", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    refused = tokenise_from(client, "192.0.2.40", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert refused.status_code == 429


@time_machine.travel("2026-03-02 10:05:05", tick=False)
def test_behind_a_tls_proxy_each_forwarded_address_has_its_own_count(client, limit, settings):
    settings.BEHIND_TLS_PROXY = True
    for _ in range(3):
        tokenise_from(client, "10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.50")
    assert tokenise_from(client, "10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.50").status_code == 429
    assert tokenise_from(client, "10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.51").status_code == 201


def test_the_back_office_and_the_api_are_not_limited_by_it(client, limit, merchant):
    client.force_login(MembershipFactory(merchant=merchant).user)
    assert {client.get("/app/", REMOTE_ADDR="192.0.2.60").status_code for _ in range(5)} == {200}


# --- Favicon -------------------------------------------------------------------------------------


def test_the_favicon_is_served_and_linked(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    assert 'rel="icon"' in client.get("/accounts/login/").content.decode()
