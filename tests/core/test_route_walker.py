"""Every route, walked from the URL resolver (tests/routes.py): junk never gets a server
error, and another merchant's ids, or the other mode's, are a 404 on every route that takes
one.

New routes are covered without touching this file; a new URL kwarg the walker cannot place
fails ``test_the_walker_knows_what_every_url_kwarg_designates`` until tests/routes.py says
what it is.
"""

import base64
import json
import random
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, api_secret_for
from tests.routes import (
    JUNK_KWARGS,
    MODE_BOUND,
    PRODUCT_KINDS,
    Route,
    iter_routes,
    merchant_objects,
    url_for,
)

NESTED = "[" * 10_000 + "]" * 10_000
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Values a careless or hostile client sends, under names our forms and serializers read.
TYPED_JUNK = {
    "name": {"x": 1},
    "reference": "A\r\nB",
    "currency": "€€€",
    "url": "https://[::1",
    "description": None,
    "total_amount": 10**30,
    "amount": "1e999999",
    "participants": [None, 1, "x"],
    "steps": [[]],
    "fields": [{}],
    "answers": [],
    "channel": ["email"],
    "subject": [],
    "body_text": 1,
    "language": "xx",
    "lang": "../../etc",
    "metadata": {"k": {"k": {"k": []}}},
    "version": 10**30,
    "repeat_max": 10**30,
    "reason": 5,
}
FORM_JUNK = {
    "name": "x" * 5000,
    "steps_json": NESTED,
    "fields_json": "[" * 40 + "]" * 40,
    "channel": "pigeon",
    "subject_en": "{{ ",
    "body_text_en": "{% for %}",
    "language": "xx",
    "lang": "%ff",
    "phone": "+999",
    "slug": "../x",
    "decision": "maybe",
    "amount": "1e300000",
    "card_token": "tok_" + "x" * 3000,
    "page": "-1",
    # The smart-form builder's rows (a formset): a number too long to convert, a junk
    # position and a move past the end.
    "fields-TOTAL_FORMS": "1",
    "fields-INITIAL_FORMS": "0",
    "fields-0-type": "number",
    "fields-0-key": "k",
    "fields-0-number_min": "9" * 5000,
    "fields-0-position": "nan",
    "move": "0:down",
}
JUNK_QUERIES = [
    "page=-1&cursor=%25%25%25&status=nope&lang=xx&limit=99999999999999999999",
    "created_after=not-a-date&created_before=2026-13-45&reference=" + "r" * 3000,
    "status=open&status=&cursor=" + "A" * 500 + "&page=%ff&lang=../../etc",
]


def bodies(route: Route) -> list[tuple[str, bytes]]:
    """A sample of junk bodies: the same for every route, plus random bytes seeded by it."""
    noise = random.Random(route.pattern).randbytes(300)
    return [
        (JSON, b"{}"),
        (JSON, b"[]"),
        (JSON, b"null"),
        (JSON, b'{"reference": '),
        (JSON, b'{"name": "a\\u0000b", "reference": "\\u0000"}'),
        (JSON, NESTED.encode()),
        (JSON, json.dumps(TYPED_JUNK).encode()),
        (JSON, noise),
        (FORM, urlencode(FORM_JUNK).encode()),
        (FORM, b"a=1&b=%00&%ff=%fe&name=x%00"),
        (FORM, noise),
        ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n\r\n"),
        ("text/plain", noise),
    ]


WALKED = [route for route in iter_routes(kinds=PRODUCT_KINDS)]
CALLS = [
    pytest.param(route, method, id=f"{method} {route.label}")
    for route in WALKED
    for method in route.methods
]
# Kinds answered in the API's JSON error shape; with the back office, the ones with ids.
API_KINDS = ("api", "centralpay")
ID_KINDS = (*API_KINDS, "backoffice")
FOREIGN_CALLS = [
    pytest.param(route, method, id=f"{method} {route.label}")
    for route in WALKED
    if route.kind in ID_KINDS and route.scoped_kwargs
    for method in route.methods
]


# Lists answer for one mode: the other mode's objects must not show in them.
MODE_LISTS = [
    pytest.param(route, id=route.label)
    for route in WALKED
    if route.kind in ID_KINDS and not route.kwargs_names and "GET" in route.methods
]
MODE_CALLS = [
    pytest.param(route, method, id=f"{method} {route.label}")
    for route in WALKED
    if route.kind in ID_KINDS and route.mode_bound_kwargs
    for method in route.methods
]


def test_the_walker_knows_what_every_url_kwarg_designates():
    unknown = [f"{r.pattern} -> {name}" for r in WALKED for name in r.unknown_kwargs]
    assert not unknown, (
        "The route walker does not know what these URL kwargs designate; add them to "
        f"KWARG_RESOURCES in tests/routes.py: {unknown}"
    )
    assert not [r.pattern for r in WALKED if r.is_regex], "product routes use path(), not regex"


def test_the_walker_finds_every_kind_of_route_with_its_methods():
    by_name = {route.name: route for route in iter_routes()}
    assert by_name["payment-request-detail"].methods == ("GET", "PATCH")
    assert by_name["payment-request-detail"].kind == "api"
    assert by_name["participant-detail"].scoped_kwargs == ("public_id", "participant_id")
    assert by_name["backoffice:request_export"].kind == "backoffice"
    assert by_name["smartforms:form_edit"].methods == ("GET", "POST")
    assert by_name["smartforms:form_edit_json"].methods == ("GET", "POST")
    assert by_name["smartforms:form_builder_preview"].methods == ("POST",)
    assert by_name["scenarios:scenario_pause"].methods == ("POST",)
    assert by_name["backoffice:switch_merchant"].methods == ("GET", "POST")  # a function view
    assert by_name["payer:pay"].kind == "payer" and by_name["progress:page"].kind == "progress"
    assert by_name["sandbox:tokens"].kind == "sandbox" and by_name["esp_tracking"].kind == "other"
    assert {by_name[name].kind for name in ("healthz", "livez", "readyz", "metrics")} == {
        "operations"
    }
    assert by_name["centralpay:transaction"].scoped_kwargs == ("uuid",)
    assert by_name["centralpay:breakdown_qrcode"].mode_bound_kwargs == ("public_id",)
    kinds = [route.kind for route in WALKED]
    assert kinds.count("api") >= 30 and kinds.count("backoffice") >= 25


def test_url_for_keeps_junk_inside_its_segment():
    route = next(r for r in iter_routes() if r.name == "participant-detail")
    url = url_for(route, public_id="../x", participant_id="a/b?c")
    assert url == "/api/v1/payment-requests/..%2Fx/participants/a%2Fb%3Fc"
    with pytest.raises(KeyError):
        url_for(route, public_id="pr_x")


def _client(route: Route, merchant, *, mode: str = "test") -> Client:
    """A client of ``merchant`` in ``mode``: an API key of that mode (as HTTP Basic on the
    CentralPay-compatible routes), or an operator who switched the back office to it with
    the mode toggle."""
    if route.kind == "centralpay":
        token = base64.b64encode(f"{api_secret_for(merchant, mode=mode)}:".encode()).decode()
        return Client(HTTP_AUTHORIZATION=f"Basic {token}")
    if route.kind == "api":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode=mode)}")
        return client
    client = Client()
    if route.kind == "backoffice":
        client.force_login(MembershipFactory(merchant=merchant).user)
        if mode == "live":
            assert client.post("/app/mode/", {"mode": "live"}).status_code == 302
    return client


def _check(route: Route, method: str, url: str, response, what: str) -> None:
    where = f"{method} {url} with {what}"
    assert response.status_code < 500, f"{where}: {response.status_code}"
    if route.kind in API_KINDS and response.status_code >= 400:
        assert "json" in response.get("Content-Type", ""), f"{where}: not JSON"
        error = response.json()["error"]
        assert {"type", "code", "message", "field"} <= set(error), f"{where}: {error}"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CALLS)
def test_no_junk_body_query_or_id_gets_a_server_error(route, method, merchant, settings):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    objects = merchant_objects(merchant)
    client = _client(route, merchant)
    url = url_for(route, **route.ids_from(objects))
    call = getattr(client, method.lower())

    for query in JUNK_QUERIES:
        _check(route, method, url, call(f"{url}?{query}"), f"query {query[:40]}")
    _check(route, method, url, call(f"{url}?q=%00&lang=fr%00"), "a NUL in the query")
    if method != "GET":
        for content_type, body in bodies(route):
            response = client.generic(method, url, body, content_type)
            _check(route, method, url, response, f"{content_type} {body[:40]!r}")
    for junk in JUNK_KWARGS:
        junk_url = url_for(route, **dict.fromkeys(route.kwargs_names, junk))
        response = client.generic(method, junk_url, b"{}", JSON)
        _check(route, method, junk_url, response, f"the id {junk[:20]!r}")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), FOREIGN_CALLS)
def test_another_merchants_ids_are_a_404_on_every_route_that_takes_one(
    route, method, merchant, other_merchant, settings
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    theirs = merchant_objects(merchant)
    client = _client(route, other_merchant)  # the other merchant's key or operator
    attempts = {"all of them foreign": route.ids_from(theirs)}
    if len(route.scoped_kwargs) > 1:
        # Their own parent with a foreign child: the child is looked up under the parent.
        ours = route.ids_from(merchant_objects(other_merchant))
        last = route.scoped_kwargs[-1]
        attempts["only the last foreign"] = {**ours, last: theirs[route.resources[last]]}

    for what, ids in attempts.items():
        url = url_for(route, **ids)
        body = b"{}" if route.kind == "api" else b""
        response = client.generic(method, url, body, JSON if route.kind == "api" else FORM)
        assert response.status_code == 404, f"{method} {url} ({what}): {response.status_code}"
        if route.kind in API_KINDS:
            assert response.json()["error"]["code"] == "not_found"


def test_the_walker_finds_the_mode_bound_routes():
    labels = {route.label for route, _ in (call.values for call in MODE_CALLS)}
    assert {"payment-request-detail", "participant-detail", "backoffice:request_detail"} <= labels
    assert {"backoffice:dispatch_resend", "backoffice:participant_qr"} <= labels
    assert not [label for label in labels if label.startswith(("scenarios:", "smartforms:"))]


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["test", "live"])
@pytest.mark.parametrize(("route", "method"), MODE_CALLS)
def test_the_other_modes_ids_are_a_404_on_every_route_that_takes_one(
    route, method, mode, merchant, live_cards, settings
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    ours = merchant_objects(merchant, livemode=mode == "live")
    other = merchant_objects(merchant, livemode=mode != "live")
    client = _client(route, merchant, mode=mode)
    attempts = {"all of them from the other mode": route.ids_from(other)}
    if len(route.mode_bound_kwargs) > 1:
        # The parent in our mode, the child from the other one.
        last = route.mode_bound_kwargs[-1]
        attempts["only the last from the other mode"] = {
            **route.ids_from(ours),
            last: other[route.resources[last]],
        }

    for what, ids in attempts.items():
        url = url_for(route, **ids)
        body = b"{}" if route.kind == "api" else b""
        response = client.generic(method, url, body, JSON if route.kind == "api" else FORM)
        assert response.status_code == 404, (
            f"{method} {url} in {mode} mode ({what}): {response.status_code}"
        )
        if route.kind in API_KINDS:
            assert response.json()["error"]["code"] == "not_found"
    if method == "GET":
        # The same route with our own mode's ids does answer: the 404 above is the mode's.
        url = url_for(route, **route.ids_from(ours))
        assert client.get(url).status_code < 400, f"GET {url} in {mode} mode"


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["test", "live"])
@pytest.mark.parametrize("route", MODE_LISTS)
def test_no_list_shows_the_other_modes_objects(route, mode, merchant, live_cards, settings):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    ours = merchant_objects(merchant, livemode=mode == "live")
    other = merchant_objects(merchant, livemode=mode != "live")
    client = _client(route, merchant, mode=mode)

    response = client.get(url_for(route))

    assert response.status_code < 500, f"GET {route.pattern} in {mode} mode"
    body = b"".join(response) if response.streaming else response.content
    for resource in sorted(MODE_BOUND):
        assert other[resource].encode() not in body, f"{route.label} shows a {resource}"
    if route.label in ("payment-request-list", "webhook-endpoint-list", "backoffice:request_list"):
        assert response.status_code == 200, f"GET {route.pattern} in {mode} mode"
        key = "webhook_endpoint" if route.label == "webhook-endpoint-list" else "request"
        assert ours[key].encode() in body, f"{route.label} misses our own {key}"


# --- The invitation link under /accounts/ -------------------------------------------------------

ACCOUNT_CALLS = [
    pytest.param(route, method, id=f"{method} {route.label}")
    for route in WALKED
    if route.kind == "accounts"
    for method in route.methods
]


def test_the_walker_walks_the_invitation_link():
    assert [(route.label, route.resources) for route in WALKED if route.kind == "accounts"] == [
        ("invitations:join", {"token": "invitation_token"})
    ]


def _unusable_tokens(merchant) -> dict[str, tuple[str, int]]:
    """Links that name no usable invitation, each with the status it must get: forged,
    tampered, signed for another purpose, expired (by the signature or by the row), used and
    withdrawn."""
    import time_machine
    from django.core import signing
    from django.utils import timezone

    from merchants import services as team
    from merchants.models import Invitation

    def invite(name: str) -> Invitation:
        return team.invitation_create(merchant=merchant, email=f"{name}@example.com")

    used = invite("used")
    team.invitation_accept_new_user(invitation=used, password="correct horse battery 42")
    revoked = invite("revoked")
    team.invitation_revoke(invitation=revoked)
    row_expired = invite("row-expired")
    Invitation.objects.filter(pk=row_expired.pk).update(
        expires_at=timezone.now() - timezone.timedelta(minutes=1)
    )
    with time_machine.travel(timezone.now() - team.INVITATION_TTL - timezone.timedelta(hours=1)):
        signature_expired = team.invitation_token(invite("signature-expired"))
    good = team.invitation_token(invite("tampered"))
    return {
        **{f"junk {junk[:12]!r}": (junk, 404) for junk in JUNK_KWARGS},
        "tampered": (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), 404),
        "no such invitation": (signing.dumps("inv_" + "A" * 24, salt=team._INVITATION_SALT), 404),
        "signed for another purpose": (signing.dumps(revoked.public_id, salt="other"), 404),
        "expired signature": (signature_expired, 410),
        "expired invitation": (team.invitation_token(row_expired), 410),
        "used": (team.invitation_token(used), 410),
        "revoked": (team.invitation_token(revoked), 410),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), ACCOUNT_CALLS)
def test_unusable_invitation_links_are_refused_clearly_never_a_server_error(
    route, method, merchant, other_merchant
):
    from merchants.models import Membership

    tokens = _unusable_tokens(other_merchant)
    members = Membership.objects.count()
    anonymous = Client()
    operator = Client()  # logged in, of another merchant than the invitations'
    operator.force_login(MembershipFactory(merchant=merchant).user)
    for what, (token, status) in tokens.items():
        url = url_for(route, token=token)
        for who, client in (("anonymous", anonymous), ("another merchant's operator", operator)):
            if method == "GET":
                assert client.get(url).status_code == status, f"GET {what} as {who}"
                continue
            for kind, body in bodies(route):
                response = client.generic(method, url, body, kind)
                # A body the request parser cannot read is a 400 before the view runs.
                assert response.status_code in (400, status), f"{what} as {who}: {body[:30]!r}"
            password = {"password1": "Zq9!long-enough", "password2": "Zq9!long-enough"}
            assert client.post(url, password).status_code == status, f"POST {what} as {who}"
    assert Membership.objects.count() == members + 1  # the operator only: nobody joined


@pytest.mark.django_db
def test_another_merchants_invitation_does_not_let_a_logged_in_operator_join(
    merchant, other_merchant
):
    from merchants import services as team
    from merchants.models import Membership

    operator = MembershipFactory(merchant=merchant).user
    theirs = team.invitation_create(merchant=other_merchant, email="someone-else@example.com")
    client = Client()
    client.force_login(operator)
    url = f"/accounts/invitation/{team.invitation_token(theirs)}/"

    assert client.get(url).status_code == 200  # the invited person's page, for them to read
    response = client.post(url)

    assert response.status_code == 409
    assert "log out, then open the link again" in response.content.decode()
    assert not Membership.objects.filter(merchant=other_merchant, user=operator).exists()
    theirs.refresh_from_db()
    assert theirs.accepted_at is None
