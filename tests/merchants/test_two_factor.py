"""Two-factor login: an operator turns an authenticator on (QR code, confirmed by a code),
keeps ten single-use recovery codes, and from then on logs in with a code after the
password; a half-logged-in session reaches nothing; wrong codes lock the step for a while;
a merchant can require it of its owners (or everyone); idle sessions end."""

import re

import pytest
import time_machine
from django.core.cache import cache
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from merchants import services
from merchants.models import Merchant
from tests.factories import MembershipFactory, MerchantFactory

PASSWORD = "correct-horse-battery"
SECURITY = "/app/account/security/"
VERIFY = "/accounts/two-factor/"
LOGIN = "/accounts/login/"
# A fixed starting instant in the middle of a 30-second step, so "the next step" is exact.
T0 = 1_800_000_015


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(merchant):
    return MembershipFactory(merchant=merchant, role="owner").user


def code(device: TOTPDevice, *, steps: int = 0) -> str:
    """The code the operator's app would show now (or ``steps`` time steps later)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0 - steps * device.step):06d}"


def enable(client, user) -> tuple[TOTPDevice, list[str]]:
    """Turn two-factor on through the pages, as the operator would; returns the device and
    the recovery codes shown."""
    client.post("/app/account/security/totp/start/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/app/account/security/totp/confirm/", {"token": code(device)})
    assert response.status_code == 302
    page = client.get(SECURITY).content.decode()
    codes = re.findall(r"<code class=\"fs-6\">([a-z0-9-]+)</code>", page)
    device.refresh_from_db()
    return device, codes


def log_in(client, user):
    return client.post(LOGIN, {"username": user.username, "password": PASSWORD})


def test_an_operator_turns_two_factor_on_with_a_qr_code_and_a_confirming_code(client, owner, clock):
    client.force_login(owner)
    page = client.get(SECURITY).content.decode()
    assert "Two-factor login is off" in page
    client.post("/app/account/security/totp/start/")
    page = client.get(SECURITY).content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    device = TOTPDevice.objects.get(user=owner)
    assert not device.confirmed  # nothing asked at login until a code proved the app works
    key = re.search(r'data-testid="totp-key">([A-Z2-7 ]+)<', page).group(1)
    import base64

    assert base64.b32decode(key.replace(" ", "")) == device.bin_key

    response = client.post("/app/account/security/totp/confirm/", {"token": code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    page = client.get(SECURITY).content.decode()
    codes = re.findall(r"<code class=\"fs-6\">([a-z0-9-]+)</code>", page)
    assert len(codes) == 10 and len(set(codes)) == 10
    # Stored hashed: no code is in the database as such.
    stored = set(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {services.recovery_code_normalise(c) for c in codes}
    assert stored == {services.recovery_code_hash(c) for c in codes}
    # Shown once only.
    again = client.get(SECURITY).content.decode()
    assert codes[0] not in again
    assert "10 recovery codes left." in again


def test_a_wrong_code_does_not_confirm_the_device(client, owner, clock):
    client.force_login(owner)
    client.post("/app/account/security/totp/start/")
    device = TOTPDevice.objects.get(user=owner)
    wrong = f"{(int(code(device)) + 1) % 1_000_000:06d}"
    response = client.post("/app/account/security/totp/confirm/", {"token": wrong})
    assert response.status_code == 422
    assert "This code is not valid" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticDevice.objects.filter(user=owner).exists()


def test_login_with_a_device_asks_for_a_code_before_any_page(client, owner, clock):
    client.force_login(owner)
    device, _ = enable(client, owner)
    client.logout()

    response = log_in(client, owner)
    assert response.status_code == 302
    # Half logged in: every back-office page sends to the code step.
    for path in ("/app/", SECURITY, "/app/team/", "/app/settings/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(VERIFY), path
    response = client.post("/app/team/invite/", {"email": "x@example.com", "role": "agent"})
    assert response["Location"].startswith(VERIFY)
    page = client.get(VERIFY).content.decode()
    assert "Log out" in page and "Payment requests" not in page  # no menu yet

    clock.shift(30)
    session_before = client.session.session_key
    response = client.post(VERIFY, {"token": code(device), "next": "/app/team/"})
    assert response.status_code == 302 and response["Location"] == "/app/team/"
    assert client.session.session_key != session_before
    assert client.get("/app/team/").status_code == 200


def test_the_half_logged_in_session_is_no_api_credential(client, owner, clock):
    client.force_login(owner)
    enable(client, owner)
    client.logout()
    log_in(client, owner)
    response = client.get("/api/v1/payment-requests")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_the_same_code_cannot_be_used_twice(client, owner, clock):
    client.force_login(owner)
    device, _ = enable(client, owner)  # the confirming code was accepted at T0's step
    client.logout()
    log_in(client, owner)
    response = client.post(VERIFY, {"token": code(device)})
    assert response.status_code == 422  # replay of the confirming code refused
    clock.shift(30)
    accepted = code(device)
    assert client.post(VERIFY, {"token": accepted}).status_code == 302
    client.logout()
    log_in(client, owner)
    clock.shift(5)  # django-otp slows a device after a failure; none here
    assert client.post(VERIFY, {"token": accepted}).status_code == 422


def test_a_recovery_code_works_once(client, owner, clock):
    client.force_login(owner)
    _, codes = enable(client, owner)
    client.logout()

    log_in(client, owner)
    # Typed in capitals with spaces: still the code.
    typed = codes[3].upper().replace("-", " ")
    response = client.post(VERIFY, {"token": typed}, follow=True)
    assert response.status_code == 200
    assert "You used a recovery code; 9 left." in response.content.decode()
    assert services.recovery_codes_left(user=owner) == 9
    client.logout()

    log_in(client, owner)
    clock.shift(2)
    response = client.post(VERIFY, {"token": codes[3]})
    assert response.status_code == 422
    assert client.get("/app/").status_code == 302


def test_regenerating_codes_needs_the_password_and_retires_the_old_ones(client, owner, clock):
    client.force_login(owner)
    _, old = enable(client, owner)
    response = client.post("/app/account/security/recovery-codes/", {"password": "nope"})
    assert response.status_code == 422
    assert services.recovery_codes_left(user=owner) == 10
    client.post("/app/account/security/recovery-codes/", {"password": PASSWORD})
    page = client.get(SECURITY).content.decode()
    new = re.findall(r"<code class=\"fs-6\">([a-z0-9-]+)</code>", page)
    assert len(new) == 10 and not set(new) & set(old)
    client.logout()
    log_in(client, owner)
    assert client.post(VERIFY, {"token": old[0]}).status_code == 422
    clock.shift(2)
    assert client.post(VERIFY, {"token": new[0]}).status_code == 302


def test_turning_off_needs_the_password_and_a_code(client, owner, clock):
    client.force_login(owner)
    device, codes = enable(client, owner)
    url = "/app/account/security/disable/"
    clock.shift(30)
    assert client.post(url, {"password": "wrong", "token": code(device)}).status_code == 422
    clock.shift(30)
    assert client.post(url, {"password": PASSWORD, "token": "000000"}).status_code == 422
    assert TOTPDevice.objects.filter(user=owner, confirmed=True).exists()
    clock.shift(60)
    assert client.post(url, {"password": PASSWORD, "token": codes[0]}).status_code == 302
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not StaticDevice.objects.filter(user=owner).exists()
    client.logout()
    log_in(client, owner)
    assert client.get("/app/team/").status_code == 200  # no code asked any more


def test_wrong_codes_lock_the_code_step_for_a_while(client, owner, clock, settings):
    settings.TWO_FACTOR_FAILURE_LIMIT = 3
    settings.TWO_FACTOR_COOLOFF_MINUTES = 10
    client.force_login(owner)
    device, codes = enable(client, owner)
    client.logout()
    log_in(client, owner)
    for expected in (422, 422, 429):  # the third wrong code locks
        clock.shift(20)  # past django-otp's own growing delay
        assert client.post(VERIFY, {"token": "123456"}).status_code == expected
    clock.shift(60)
    # Locked: even the right code (or a recovery code) is refused, with a clear page.
    response = client.post(VERIFY, {"token": code(device)})
    assert response.status_code == 429
    assert "Too many wrong codes: try again in 9 minutes." in response.content.decode()
    assert client.post(VERIFY, {"token": codes[0]}).status_code == 429
    assert services.recovery_codes_left(user=owner) == 10
    assert client.get(VERIFY).status_code == 429
    clock.shift(10 * 60)
    assert client.post(VERIFY, {"token": code(device)}).status_code == 302


def test_another_operators_device_is_untouched(client, merchant, owner, clock):
    colleague = MembershipFactory(merchant=merchant, role="admin").user
    client.force_login(colleague)
    colleague_device, colleague_codes = enable(client, colleague)
    client.logout()

    client.force_login(owner)
    enable(client, owner)
    clock.shift(30)
    # The colleague's code and recovery code mean nothing for the owner's login.
    response = client.post(
        "/app/account/security/disable/",
        {"password": PASSWORD, "token": colleague_codes[0]},
    )
    assert response.status_code == 422
    client.post("/app/account/security/recovery-codes/", {"password": PASSWORD})
    assert TOTPDevice.objects.get(user=colleague).key == colleague_device.key
    assert services.recovery_codes_left(user=colleague) == 10
    assert set(
        StaticToken.objects.filter(device__user=colleague).values_list("token", flat=True)
    ) == {services.recovery_code_hash(c) for c in colleague_codes}


def test_a_device_removed_meanwhile_leaves_nothing_to_prove(client, owner, clock):
    client.force_login(owner)
    enable(client, owner)
    client.logout()
    log_in(client, owner)
    assert client.get("/app/team/")["Location"].startswith(VERIFY)
    TOTPDevice.objects.filter(user=owner).delete()  # an administrator reset the login
    StaticDevice.objects.filter(user=owner).delete()
    assert client.get(VERIFY)["Location"] == "/app/"
    assert client.get("/app/team/").status_code == 200


def test_operators_without_a_device_log_in_as_before(client, owner):
    response = log_in(client, owner)
    assert response.status_code == 302 and not response["Location"].startswith(VERIFY)
    assert client.get("/app/team/").status_code == 200
    assert client.get(VERIFY).status_code == 302  # nothing to verify


# --- The merchant's requirement -----------------------------------------------------------------


def test_an_owner_requires_two_factor_only_after_turning_it_on_himself(
    client, merchant, owner, clock
):
    client.force_login(owner)
    data = {
        "name": merchant.name,
        "brand_color": merchant.brand_color,
        "default_language": "fr",
        "time_zone": "Europe/Paris",
        "default_currency": "EUR",
        "two_factor_policy": "owners",
    }
    response = client.post("/app/settings/", data)
    assert response.status_code == 422
    assert "Turn on two-factor login for yourself first." in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.two_factor_policy == "optional"

    enable(client, owner)
    assert client.post("/app/settings/", data).status_code == 302
    merchant.refresh_from_db()
    assert merchant.two_factor_policy == "owners"


@pytest.mark.parametrize("policy", ["bogus", "x" * 5000, "é☃"])
def test_an_unknown_policy_is_refused_at_its_field(client, merchant, owner, policy):
    client.force_login(owner)
    response = client.post(
        "/app/settings/",
        {
            "name": merchant.name,
            "brand_color": merchant.brand_color,
            "default_language": "fr",
            "time_zone": "Europe/Paris",
            "default_currency": "EUR",
            "two_factor_policy": policy,
        },
    )
    assert response.status_code == 422
    assert 'id="id_two_factor_policy_error"' in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.two_factor_policy == "optional"


def test_an_admin_cannot_change_the_requirement(client, merchant):
    admin = MembershipFactory(merchant=merchant, role="admin").user
    client.force_login(admin)
    page = client.get("/app/settings/").content.decode()
    assert re.search(r'<select name="two_factor_policy"[^>]*disabled', page)
    response = client.post(
        "/app/settings/",
        {
            "name": "Renamed",
            "brand_color": "#112233",
            "default_language": "fr",
            "time_zone": "Europe/Paris",
            "default_currency": "EUR",
            "two_factor_policy": "everyone",
        },
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.name == "Renamed" and merchant.two_factor_policy == "optional"


def test_an_owner_without_a_device_is_sent_to_set_one_up(client, merchant, owner, clock):
    merchant.two_factor_policy = Merchant.TwoFactorPolicy.OWNERS
    merchant.save()
    agent = MembershipFactory(merchant=merchant, role="agent").user
    client.force_login(owner)
    for path in ("/app/", "/app/team/", "/app/scenarios/", "/app/api-keys/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == SECURITY, path
    response = client.get(SECURITY)
    assert response.status_code == 200
    assert "requires two-factor login for your role" in response.content.decode()
    enable(client, owner)
    assert client.get("/app/team/").status_code == 200
    # Agents are not concerned by "owners".
    client.force_login(agent)
    assert client.get("/app/team/").status_code == 200
    merchant.two_factor_policy = Merchant.TwoFactorPolicy.EVERYONE
    merchant.save()
    assert client.get("/app/team/")["Location"] == SECURITY


def test_the_requirement_follows_the_merchant_acted_for(client, merchant, owner):
    strict = MerchantFactory(name="Strict")
    Merchant.objects.filter(pk=strict.pk).update(two_factor_policy="owners")
    MembershipFactory(merchant=strict, user=owner, role="owner")
    client.force_login(owner)
    client.get("/app/team/")  # works for Alpha Shop
    response = client.post("/app/merchant/switch/", {"slug": strict.slug})
    assert response.status_code == 302
    assert client.get("/app/team/")["Location"] == SECURITY
    client.post("/app/merchant/switch/", {"slug": merchant.slug})
    assert client.get("/app/team/").status_code == 200


def test_a_device_added_elsewhere_asks_this_session_for_a_code(client, merchant, owner, clock):
    merchant.two_factor_policy = "owners"
    merchant.save()
    client.force_login(owner)  # before the device exists: fully logged in
    device = services.totp_device_start(user=owner)
    services.totp_device_confirm(user=owner, token=code(device))
    device.refresh_from_db()
    # This session never proved the device added from another browser: the requirement
    # asks it for a code now.
    response = client.get("/app/team/")
    assert response["Location"].startswith(VERIFY)
    clock.shift(30)
    assert client.post(VERIFY, {"token": code(device)}).status_code == 302
    assert client.get("/app/team/").status_code == 200


# --- Bad input ---------------------------------------------------------------------------------

JUNK = ["", " ", "x" * 5000, "é☃", "12345", "1234567", "99999999", "-1", "1e6", "abcd-efgh-ijkm"]


@pytest.mark.parametrize("token", JUNK)
def test_junk_codes_are_refused_never_a_server_error(client, owner, clock, token):
    client.force_login(owner)
    enable(client, owner)
    for url, data in (
        ("/app/account/security/disable/", {"password": PASSWORD, "token": token}),
        ("/app/account/security/totp/confirm/", {"token": token}),
        ("/app/account/security/recovery-codes/", {"password": token}),
    ):
        clock.shift(20)
        response = client.post(url, data)
        assert response.status_code < 500, url
    assert TOTPDevice.objects.get(user=owner).confirmed
    client.logout()
    log_in(client, owner)
    clock.shift(20)
    response = client.post(VERIFY, {"token": token, "next": "https://evil.example/"})
    assert response.status_code in (422, 429)


def test_verification_never_redirects_off_site(client, owner, clock):
    client.force_login(owner)
    device, _ = enable(client, owner)
    client.logout()
    log_in(client, owner)
    clock.shift(30)
    response = client.post(VERIFY, {"token": code(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil" not in response["Location"]


def test_starting_again_replaces_an_unfinished_setup(client, owner, clock):
    client.force_login(owner)
    client.post("/app/account/security/totp/start/")
    first = TOTPDevice.objects.get(user=owner)
    client.post("/app/account/security/totp/start/")
    second = TOTPDevice.objects.get(user=owner)
    assert first.pk != second.pk
    assert (
        client.post("/app/account/security/totp/confirm/", {"token": code(first)}).status_code
        == 422
    )
    # And confirming with no setup under way says so.
    TOTPDevice.objects.all().delete()
    response = client.post("/app/account/security/totp/confirm/", {"token": "123456"}, follow=True)
    assert response.redirect_chain[-1][0] == SECURITY
    assert "Start the setup again" in response.content.decode()


# --- Inactivity ----------------------------------------------------------------------------------


def test_an_idle_session_is_logged_out(client, owner, settings):
    settings.SESSION_INACTIVITY_TIMEOUT = 30
    with time_machine.travel(T0, tick=False) as clock:
        log_in(client, owner)
        assert client.get("/app/team/").status_code == 200
        clock.shift(29 * 60)
        assert client.get("/app/team/").status_code == 200  # activity pushes the end back
        clock.shift(29 * 60)
        assert client.get("/app/team/").status_code == 200
        clock.shift(31 * 60)
        response = client.get("/app/team/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
        page = client.get(response["Location"]).content.decode()
        assert "You were logged out after 30 minutes without activity." in page
        assert client.get("/app/team/").status_code == 302


def test_the_session_cookie_outlives_the_timeout_so_the_middleware_decides(settings):
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_INACTIVITY_TIMEOUT * 60 + 3600


def test_lockout_and_reset_are_per_login(owner, merchant, caplog):
    other = MembershipFactory(merchant=merchant, role="owner").user
    for _ in range(5):
        services._count_failure(owner)
    assert services.two_factor_locked_for(user=owner) is not None
    assert f"Two-factor codes locked for {owner.username} for 15 minutes." in caplog.text
    assert services.two_factor_locked_for(user=other) is None
    with pytest.raises(services.TwoFactorLocked):
        services.two_factor_verify(user=owner, token="123456")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_one_code_typed_in_two_tabs_at_once_is_accepted_once(postgres_only, merchant, kind):
    """The devices are read under a row lock: two concurrent verifications of one code
    cannot both pass (a TOTP step or a recovery code is used once)."""
    import threading

    from django.db import connection

    user = MembershipFactory(merchant=merchant, role="owner").user
    with time_machine.travel(T0, tick=False):
        device = services.totp_device_start(user=user)
        _, codes = services.totp_device_confirm(user=user, token=code(device))
    device.refresh_from_db()
    barrier = threading.Barrier(2)
    outcomes = []

    def tab(token):
        try:
            with time_machine.travel(T0 + 30, tick=False):
                barrier.wait()
                try:
                    services.two_factor_verify(user=user, token=token)
                    outcomes.append("accepted")
                except services.InvalidCode:
                    outcomes.append("refused")
        finally:
            connection.close()

    with time_machine.travel(T0 + 30, tick=False):
        token = code(device) if kind == "totp" else codes[0]
    threads = [threading.Thread(target=tab, args=(token,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted", "refused"]
