"""Memberships and back-office logins."""

import pytest

from merchants.models import Membership
from merchants.services import membership_grant, user_create
from tests.factories import UserFactory


@pytest.mark.django_db
def test_granting_again_changes_the_role_on_the_same_row(merchant):
    user = UserFactory()
    first = membership_grant(merchant=merchant, user=user)

    second = membership_grant(merchant=merchant, user=user, role=Membership.Role.ADMIN)

    assert first.role == Membership.Role.AGENT
    assert second.pk == first.pk
    assert Membership.objects.get(merchant=merchant, user=user).role == Membership.Role.ADMIN
    assert Membership.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_a_login_is_the_lower_cased_email_and_its_password_is_hashed():
    user = user_create(email="Ann.Lee@Example.COM", password="correct-horse-battery")

    assert user.username == user.email == "ann.lee@example.com"
    assert user.password != "correct-horse-battery"
    assert user.check_password("correct-horse-battery")


@pytest.mark.django_db
def test_the_same_email_in_another_case_is_refused():
    user_create(email="ann@example.com", password="correct-horse-battery")

    with pytest.raises(ValueError, match="already exists"):
        user_create(email="ANN@example.com", password="another-horse-battery")
