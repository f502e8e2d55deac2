"""The back office's API keys and merchant settings pages (merchants/views.py)."""

import pytest
from django.core import mail

from merchants.models import ApiKey
from merchants.services import api_key_authenticate, api_key_create, hash_secret
from notifications.channels.base import OutgoingMessage
from notifications.channels.email import EmailTransport
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

KEYS = "/app/api-keys/"
SETTINGS = "/app/settings/"


@pytest.fixture
def owner(client, merchant):
    membership = MembershipFactory(merchant=merchant, role="owner")
    client.force_login(membership.user)
    return membership.user


def _live(client):
    assert client.post("/app/mode/", {"mode": "live"}).status_code < 400


# --- API keys -----------------------------------------------------------------------------------


def test_a_created_key_shows_its_secret_once_and_stores_only_its_hash(client, merchant, owner):
    response = client.post(f"{KEYS}new/", {"name": "Shop server"})
    assert response.status_code == 302 and response["Location"] == KEYS

    key = ApiKey.objects.get(merchant=merchant, name="Shop server")
    assert key.mode == "test" and key.created_by == owner
    first = client.get(KEYS).content.decode()
    secret = first.split('data-testid="api-key-secret"')[1].split("<code")[1]
    secret = secret.split(">", 1)[1].split("</code>")[0]
    assert secret.startswith("sk_test_") and key.secret_hash == hash_secret(secret)
    assert api_key_authenticate(secret=secret).pk == key.pk

    again = client.get(KEYS).content.decode()
    assert secret not in again and 'data-testid="api-key-secret"' not in again
    assert key.prefix in again and "Shop server" in again


def test_the_key_is_made_for_the_mode_the_back_office_shows(client, merchant, owner):
    _live(client)
    client.post(f"{KEYS}new/", {"name": "Live server"})
    key = ApiKey.objects.get(merchant=merchant, name="Live server")
    assert key.mode == "live" and key.prefix.startswith("sk_live_")
    assert "sk_live_" in client.get(KEYS).content.decode()


def test_the_list_shows_only_the_current_modes_keys(client, merchant, owner):
    test_key = api_key_create(merchant=merchant, name="T", mode="test").api_key
    live_key = api_key_create(merchant=merchant, name="L", mode="live").api_key
    html = client.get(KEYS).content.decode()
    assert test_key.prefix in html and live_key.prefix not in html
    _live(client)
    html = client.get(KEYS).content.decode()
    assert live_key.prefix in html and test_key.prefix not in html


def test_another_merchants_secret_is_never_shown_through_the_session(
    client, merchant, other_merchant, owner
):
    theirs = api_key_create(merchant=other_merchant, name="Theirs")
    session = client.session
    session["api_key_secret_once"] = [theirs.api_key.public_id, theirs.secret]
    session.save()
    assert theirs.secret not in client.get(KEYS).content.decode()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_bad_name_is_refused_at_its_field(client, merchant, owner, name):
    response = client.post(f"{KEYS}new/", {"name": name})
    assert response.status_code == 422
    assert 'id="name-error"' in response.content.decode()
    assert not ApiKey.objects.filter(merchant=merchant).exists()


def test_the_cap_on_active_keys_is_shown_not_a_server_error(client, merchant, owner, monkeypatch):
    monkeypatch.setattr("merchants.services.MAX_ACTIVE_API_KEYS", 1)
    api_key_create(merchant=merchant, name="first")
    response = client.post(f"{KEYS}new/", {"name": "second"})
    assert response.status_code == 422
    assert "revoke one before creating another" in response.content.decode()


def test_revoking_asks_first_then_refuses_the_secret(client, merchant, owner):
    created = api_key_create(merchant=merchant, name="Old")
    url = f"{KEYS}{created.api_key.public_id}/revoke/"

    confirm = client.get(url)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    created.api_key.refresh_from_db()
    assert created.api_key.revoked_at is None

    assert client.post(url).status_code == 302
    created.api_key.refresh_from_db()
    assert created.api_key.revoked_at is not None
    assert "Revoked" in client.get(KEYS).content.decode()
    assert client.get(
        "/api/v1/payment-requests", HTTP_AUTHORIZATION=f"Bearer {created.secret}"
    ).status_code in (401, 403)


def test_revoking_twice_keeps_the_first_date(client, merchant, owner):
    key = api_key_create(merchant=merchant, name="Old").api_key
    client.post(f"{KEYS}{key.public_id}/revoke/")
    key.refresh_from_db()
    first = key.revoked_at
    assert client.post(f"{KEYS}{key.public_id}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at == first


def test_the_other_modes_and_merchants_keys_are_a_404(client, merchant, other_merchant, owner):
    live = api_key_create(merchant=merchant, name="L", mode="live").api_key
    theirs = api_key_create(merchant=other_merchant, name="T").api_key
    for key in (live, theirs):
        assert client.get(f"{KEYS}{key.public_id}/revoke/").status_code == 404
        assert client.post(f"{KEYS}{key.public_id}/revoke/").status_code == 404
        key.refresh_from_db()
        assert key.revoked_at is None


@pytest.mark.parametrize("role", ["admin", "agent", "viewer"])
def test_only_owners_see_the_key_buttons(client, merchant, role):
    api_key_create(merchant=merchant, name="K")
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)
    html = client.get(KEYS).content.decode()
    assert "New test key" not in html and "/revoke/" not in html
    assert client.post(f"{KEYS}new/", {"name": "x"}).status_code == 403


# --- Settings -----------------------------------------------------------------------------------

GOOD = {
    "name": "Alpha Boutique",
    "brand_color": "#112233",
    "contact_email": "help@alpha.example",
    "sender_name": "Alpha Boutique",
    "reply_to_email": "replies@alpha.example",
    "default_language": "en",
    "time_zone": "America/Montreal",
    "default_currency": "CHF",
}


def test_an_admin_saves_the_settings(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="admin").user)
    response = client.post(SETTINGS, GOOD)
    assert response.status_code == 302
    merchant.refresh_from_db()
    for field, value in GOOD.items():
        assert getattr(merchant, field) == value, field
    assert 'value="Alpha Boutique"' in client.get(SETTINGS).content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("brand_color", "red"),
        ("brand_color", "#12345"),
        ("contact_email", "not-an-email"),
        ("reply_to_email", "x@"),
        ("time_zone", "Mars/Olympus"),
        ("default_currency", "XYZ"),
        ("default_language", "xx"),
        ("name", ""),
        ("name", "x" * 201),
        ("sender_name", "Evil\r\nBcc: a@b.c"),
        ("sender_name", "Shop <ceo@bank.example>"),
    ],
)
def test_a_bad_setting_is_refused_at_its_field_and_nothing_is_saved(
    client, merchant, owner, field, value
):
    response = client.post(SETTINGS, {**GOOD, field: value})
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.name == "Alpha Shop"


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_read_the_settings_but_cannot_save_them(client, merchant, role):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)
    page = client.get(SETTINGS)
    assert page.status_code == 200 and "disabled" in page.content.decode()
    assert client.post(SETTINGS, GOOD).status_code == 403
    merchant.refresh_from_db()
    assert merchant.name == "Alpha Shop"


def test_payer_emails_go_out_under_the_merchants_sender_name_and_reply_to(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "Push & Pay <noreply@pushpay.example>"
    EmailTransport().send(
        OutgoingMessage(
            message_id="nt_1",
            merchant_id=None,
            to="payer@example.com",
            subject="Pay",
            text="Pay",
            reply_to="replies@alpha.example",
            sender_name="Alpha Boutique",
        )
    )
    sent = mail.outbox[-1]
    assert sent.from_email == "Alpha Boutique <noreply@pushpay.example>"
    assert sent.reply_to == ["replies@alpha.example"]


def test_the_reply_to_falls_back_to_the_contact_email(merchant):
    merchant.contact_email = "help@alpha.example"
    assert merchant.payer_reply_to == "help@alpha.example"
    merchant.reply_to_email = "replies@alpha.example"
    assert merchant.payer_reply_to == "replies@alpha.example"


def test_a_scenario_email_is_built_with_the_merchants_sender_name_and_reply_to(merchant, settings):
    from notifications.kinds import outbox_kind_get
    from scenarios import services as scenario_services
    from scenarios.models import Dispatch
    from tests.factories import make_request
    from tests.routes import _template
    from tests.scenarios.helpers import make_scenario, step

    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    merchant.sender_name = "Alpha Boutique"
    merchant.contact_email = "help@alpha.example"
    merchant.reply_to_email = "replies@alpha.example"
    merchant.save()
    scenario = make_scenario(merchant, [step("request_created", _template(merchant, name="E"))])
    payment_request = make_request(merchant)
    scenario_services.dispatches_plan_for_request(
        payment_request=payment_request, scenario=scenario
    )
    dispatch = Dispatch.objects.filter(request=payment_request).order_by("id").first()
    kind = outbox_kind_get(dispatch.kind)
    assert kind.prepare(dispatch) == ""
    message = kind.build(dispatch)
    assert message.sender_name == "Alpha Boutique"
    assert message.reply_to == "replies@alpha.example"


# --- Logo -----------------------------------------------------------------------------------------


def _image(fmt: str = "PNG", size=(40, 20)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, "#112233").save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _upload(name: str, content: bytes, content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def test_an_uploaded_logo_is_stored_under_a_random_name_and_replaces_the_old_one(
    client, merchant, owner, media
):
    assert (
        client.post(SETTINGS, {**GOOD, "logo": _upload("../../x.png", _image())}).status_code == 302
    )
    merchant.refresh_from_db()
    first = merchant.logo.name
    assert first.startswith(f"logos/{merchant.public_id}-") and first.endswith(".png")
    assert (media / first).exists()

    client.post(SETTINGS, {**GOOD, "logo": _upload("new.jpg", _image("JPEG"), "image/jpeg")})
    merchant.refresh_from_db()
    assert merchant.logo.name.endswith(".jpg") and not (media / first).exists()

    client.post(SETTINGS, {**GOOD, "logo-clear": "on"})
    merchant.refresh_from_db()
    assert not merchant.logo


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        (
            "logo.png",
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>",
            "PNG, JPEG or WebP",
        ),
        ("logo.gif", None, "PNG, JPEG or WebP"),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "PNG, JPEG or WebP"),
        ("logo.png", b"x" * (600 * 1024), "512 KB"),
        ("logo.png", "big", "2000 pixels"),
    ],
)
def test_a_bad_logo_is_refused_at_its_field_and_nothing_is_saved(
    client, merchant, owner, media, name, content, error
):
    if content is None:
        content = _image("GIF")
    elif content == "big":
        content = _image("PNG", (2001, 10))
    response = client.post(SETTINGS, {**GOOD, "logo": _upload(name, content)})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_logo_error"' in html and error in html
    merchant.refresh_from_db()
    assert not merchant.logo and merchant.name == "Alpha Shop"
    assert not list(media.rglob("*.*"))


def test_a_french_operator_reads_the_logo_refusal_in_french(client, merchant, owner, media):
    from merchants.models import OperatorPreference

    OperatorPreference.objects.create(user=owner, language="fr")
    response = client.post(SETTINGS, {**GOOD, "logo": _upload("x.png", b"not an image")})
    assert response.status_code == 422
    assert "Envoyez une image PNG, JPEG ou WebP." in response.content.decode()
