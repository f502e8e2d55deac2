"""The addresses we give payers, built in one place.

The API shows a participant's link, the dispatcher puts it in every message, the back office
opens it and both QR codes encode it: they must never disagree, or a payer scans one address
and is mailed another.
"""

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, reverse

from .models import Participant

_TOKEN = "TOKEN"


@lru_cache(maxsize=8)
def _pay_path(script_prefix: str) -> str:
    # reverse() costs as much as rendering a message, and the dispatcher builds one link per
    # message: the route only changes with the script prefix, which is part of the key.
    return reverse("payer:pay", args=[_TOKEN])


def payment_url(participant: Participant) -> str:
    """The absolute address of the participant's payment page (the token is the credential)."""
    path = _pay_path(get_script_prefix())
    return settings.PUBLIC_BASE_URL + path.replace(_TOKEN, participant.link_token, 1)


def plan_url(participant: Participant, plan_public_id: str) -> str:
    """The absolute address of the payer's page for one of their installment plans."""
    path = reverse("payer:plan", args=[participant.link_token, plan_public_id])
    return settings.PUBLIC_BASE_URL + path
