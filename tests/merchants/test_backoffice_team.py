"""The team page and the invitation link (merchants/views.py, merchants.services)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from merchants.models import Invitation, Membership
from merchants.services import invitation_create, invitation_token
from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

TEAM = "/app/team/"
PASSWORD = "a long enough passphrase 42"


@pytest.fixture
def owner(client, merchant):
    membership = MembershipFactory(merchant=merchant, role="owner")
    client.force_login(membership.user)
    return membership


def _invite(client, email="new@example.com", role="admin", capture=None):
    if capture is None:
        return client.post(f"{TEAM}invite/", {"email": email, "role": role})
    with capture(execute=True):
        return client.post(f"{TEAM}invite/", {"email": email, "role": role})


def _join_link() -> str:
    body = mail.outbox[-1].body
    return re.search(r"http://testserver(/accounts/invitation/[^/\s]+/)", body).group(1)


def test_an_invitation_is_emailed_through_the_outbox_and_a_new_address_joins_with_a_password(
    client, merchant, owner, django_capture_on_commit_callbacks
):
    response = _invite(client, "New@Example.com", "admin", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    invitation = Invitation.objects.get(merchant=merchant)
    assert invitation.email == "new@example.com" and invitation.role == "admin"
    row = Dispatch.objects.get(kind="team_invitation", source_id=invitation.public_id)
    assert row.recipient == "new@example.com"

    dispatch_due(worker_id="w")
    assert mail.outbox[-1].to == ["new@example.com"]
    assert merchant.name in mail.outbox[-1].subject
    link = _join_link()

    client.logout()
    page = client.get(link)
    assert page.status_code == 200 and "new@example.com" in page.content.decode()
    joined = client.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    assert joined.status_code == 302

    user = get_user_model().objects.get(username="new@example.com")
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(merchant=merchant, user=user).role == "admin"
    page = client.get("/app/")  # logged in, on this merchant
    assert page.status_code == 200 and merchant.name in page.content.decode()

    # Used: the same link is refused, and makes nothing more.
    client.logout()
    again = client.get(link)
    assert again.status_code == 410 and "already used" in again.content.decode()
    assert client.post(link, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 410
    assert Membership.objects.filter(merchant=merchant).count() == 2


def test_an_existing_login_joins_with_one_click_and_keeps_its_other_merchant(
    client, merchant, other_merchant
):
    elsewhere = MembershipFactory(merchant=other_merchant, role="owner")
    elsewhere.user.email = "known@example.com"
    elsewhere.user.save()
    invitation = invitation_create(merchant=merchant, email="known@example.com", role="viewer")
    link = f"/accounts/invitation/{invitation_token(invitation)}/"

    client.force_login(elsewhere.user)
    assert client.post(link).status_code == 302
    assert Membership.objects.get(merchant=merchant, user=elsewhere.user).role == "viewer"
    assert Membership.objects.get(merchant=other_merchant, user=elsewhere.user).role == "owner"


def test_someone_logged_in_with_another_email_cannot_take_the_invitation(client, merchant):
    invitation = invitation_create(merchant=merchant, email="invited@example.com")
    intruder = MembershipFactory(role="owner").user
    client.force_login(intruder)
    response = client.post(f"/accounts/invitation/{invitation_token(invitation)}/")
    assert response.status_code == 409
    assert not Membership.objects.filter(merchant=merchant, user=intruder).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_an_expired_invitation_is_refused(client, merchant):
    invitation = invitation_create(merchant=merchant, email="late@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    link = f"/accounts/invitation/{invitation_token(invitation)}/"
    page = client.get(link)
    assert page.status_code == 410 and "expired" in page.content.decode()
    assert client.post(link, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 410
    assert not get_user_model().objects.filter(username="late@example.com").exists()


def test_a_token_older_than_a_week_is_expired_whatever_the_row_says(client, merchant, settings):
    invitation = invitation_create(merchant=merchant, email="old@example.com")
    token = invitation_token(invitation)
    later = timezone.now() + timedelta(days=8)
    import time as time_module

    real = time_module.time
    try:
        time_module.time = lambda: later.timestamp()
        response = client.get(f"/accounts/invitation/{token}/")
    finally:
        time_module.time = real
    assert response.status_code == 410


@pytest.mark.parametrize("token", ["x", "inv_" + "A" * 24, "%2e%2e", "é", "9" * 400, "a:b:c"])
def test_a_forged_or_junk_token_is_a_404_never_a_server_error(client, merchant, token):
    invitation = invitation_create(merchant=merchant, email="target@example.com")
    assert client.get(f"/accounts/invitation/{token}/").status_code == 404
    forged = invitation.public_id + ":" + "A" * 27
    assert client.post(f"/accounts/invitation/{forged}/", {"password1": "x"}).status_code == 404
    assert not get_user_model().objects.filter(username="target@example.com").exists()


def test_a_revoked_invitation_is_refused(client, merchant, owner):
    invitation = invitation_create(merchant=merchant, email="gone@example.com")
    assert client.post(f"{TEAM}invitations/{invitation.public_id}/revoke/").status_code == 302
    client.logout()
    response = client.get(f"/accounts/invitation/{invitation_token(invitation)}/")
    assert response.status_code == 410 and "withdrawn" in response.content.decode()


@pytest.mark.parametrize(
    ("password1", "password2", "error"),
    [("short", "short", "too short"), (PASSWORD, PASSWORD + "x", "differ"), ("", "", "required")],
)
def test_a_weak_or_mismatched_password_is_refused_at_its_field(
    client, merchant, password1, password2, error
):
    invitation = invitation_create(merchant=merchant, email="pw@example.com")
    response = client.post(
        f"/accounts/invitation/{invitation_token(invitation)}/",
        {"password1": password1, "password2": password2},
    )
    assert response.status_code == 422 and error in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not get_user_model().objects.filter(username="pw@example.com").exists()


def test_inviting_the_same_address_twice_is_refused_until_the_first_expires(
    client, merchant, owner
):
    assert _invite(client, "twice@example.com").status_code == 302
    second = _invite(client, "TWICE@example.com")
    assert second.status_code == 422 and "already invited" in second.content.decode()
    assert Invitation.objects.filter(merchant=merchant).count() == 1

    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _invite(client, "twice@example.com").status_code == 302
    assert Invitation.objects.filter(merchant=merchant, revoked_at__isnull=True).count() == 1


def test_inviting_a_member_or_a_bad_address_is_refused(client, merchant, owner):
    owner.user.email = "me@example.com"
    owner.user.save()
    member = _invite(client, "me@example.com")
    assert member.status_code == 422 and "already a member" in member.content.decode()
    for email, role in [("not-an-email", "agent"), ("ok@example.com", "emperor"), ("", "")]:
        assert _invite(client, email, role).status_code == 422
    assert not Invitation.objects.exists()


def test_the_same_address_may_be_invited_by_two_merchants(merchant, other_merchant):
    invitation_create(merchant=merchant, email="both@example.com")
    invitation_create(merchant=other_merchant, email="both@example.com")
    assert Invitation.objects.filter(email="both@example.com").count() == 2


# --- Roles and the last owner -----------------------------------------------------------------


def test_an_owner_changes_a_role_and_removes_a_member(client, merchant, owner):
    agent = MembershipFactory(merchant=merchant, role="agent")
    assert (
        client.post(f"{TEAM}members/{agent.public_id}/role/", {"role": "admin"}).status_code == 302
    )
    agent.refresh_from_db()
    assert agent.role == "admin"

    confirm = client.get(f"{TEAM}members/{agent.public_id}/remove/")
    assert confirm.status_code == 200 and "lose access" in confirm.content.decode()
    assert Membership.objects.filter(pk=agent.pk).exists()
    assert client.post(f"{TEAM}members/{agent.public_id}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=agent.pk).exists()
    assert get_user_model().objects.filter(pk=agent.user_id).exists()


def test_the_last_owner_can_be_neither_demoted_nor_removed(client, merchant, owner):
    demote = client.post(f"{TEAM}members/{owner.public_id}/role/", {"role": "admin"}, follow=True)
    assert "last owner" in demote.content.decode()
    client.post(f"{TEAM}members/{owner.public_id}/remove/")
    owner.refresh_from_db()
    assert owner.role == "owner"

    second = MembershipFactory(merchant=merchant, role="admin")
    client.post(f"{TEAM}members/{second.public_id}/role/", {"role": "owner"})
    assert (
        client.post(f"{TEAM}members/{owner.public_id}/role/", {"role": "viewer"}).status_code == 302
    )
    owner.refresh_from_db()
    assert owner.role == "viewer"
    assert Membership.objects.filter(merchant=merchant, role="owner").count() == 1


def test_a_junk_role_changes_nothing(client, merchant, owner):
    agent = MembershipFactory(merchant=merchant, role="agent")
    for data in [{"role": "god"}, {}, {"role": ["owner", "x"] * 500}]:
        assert client.post(f"{TEAM}members/{agent.public_id}/role/", data).status_code == 302
    agent.refresh_from_db()
    assert agent.role == "agent"


def test_another_merchants_members_and_invitations_are_a_404(
    client, merchant, other_merchant, owner
):
    theirs = MembershipFactory(merchant=other_merchant, role="agent")
    invitation = invitation_create(merchant=other_merchant, email="x@example.com")
    assert (
        client.post(f"{TEAM}members/{theirs.public_id}/role/", {"role": "owner"}).status_code == 404
    )
    assert client.post(f"{TEAM}members/{theirs.public_id}/remove/").status_code == 404
    assert client.post(f"{TEAM}invitations/{invitation.public_id}/revoke/").status_code == 404
    theirs.refresh_from_db()
    invitation.refresh_from_db()
    assert theirs.role == "agent" and invitation.revoked_at is None


@pytest.mark.parametrize("role", ["admin", "agent", "viewer"])
def test_only_owners_see_and_use_the_team_controls(client, merchant, role):
    member = MembershipFactory(merchant=merchant, role=role)
    client.force_login(member.user)
    html = client.get(TEAM).content.decode()
    assert member.user.email in html
    assert 'data-testid="invite-form"' not in html and "/remove/" not in html
    assert _invite(client).status_code == 403
    assert not Invitation.objects.exists()


def test_the_team_page_costs_the_same_queries_for_1_and_50_members(client, merchant, owner):
    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(TEAM).status_code == 200
        return len(ctx.captured_queries)

    count()  # the first page of a session caches the operator's language
    one = count()
    for n in range(49):
        MembershipFactory(merchant=merchant, role="agent")
        invitation_create(merchant=merchant, email=f"p{n}@example.com")
    assert count() == one


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(merchant):
    import threading

    from django.db import connection
    from django.test import Client

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer: nothing runs concurrently")
    first = MembershipFactory(merchant=merchant, role="owner")
    second = MembershipFactory(merchant=merchant, role="owner")
    barrier = threading.Barrier(2)

    def demote(actor, target):
        try:
            client = Client()
            client.force_login(actor.user)
            barrier.wait()
            client.post(f"{TEAM}members/{target.public_id}/role/", {"role": "admin"})
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Membership.objects.filter(merchant=merchant, role="owner").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_invitations_of_one_address_make_one(merchant):
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer: nothing runs concurrently")
    barrier = threading.Barrier(2)
    outcomes = []

    def invite():
        try:
            barrier.wait()
            invitation_create(merchant=merchant, email="race@example.com")
            outcomes.append("made")
        except Exception as exc:  # the loser's refusal, whatever its class, is what we count
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=invite) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["StateConflict", "made"]
    assert Invitation.objects.filter(email="race@example.com").count() == 1
