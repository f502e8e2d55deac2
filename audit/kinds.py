"""What each kind of audited object is called and where its page is: the audit page's labels
and links. The audit app sits downstream of every app, so it names their routes, never the
other way round."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# kind -> (label, route name, whether the route takes the object's public id)
KINDS: dict[str, tuple[str, str | None, bool]] = {
    "request": (_("Payment request"), "backoffice:request_detail", True),
    "participant": (_("Participant"), None, False),
    "scenario": (_("Scenario"), "scenarios:scenario_detail", True),
    "template": (_("Message template"), "notifications:template_detail", True),
    "form": (_("Smart form"), "smartforms:form_detail", True),
    "form_version": (_("Smart form version"), None, False),
    "webhook_endpoint": (_("Webhook endpoint"), "webhooks:endpoint_detail", True),
    "api_key": (_("API key"), "merchants:api_key_list", False),
    "provider_credential": (_("Provider credentials"), "providers:stripe", False),
    "merchant": (_("Merchant settings and branding"), "merchants:settings", False),
    "team": (_("Team"), "merchants:team", False),
    "membership": (_("Member"), None, False),
    "invitation": (_("Invitation"), None, False),
    "payment_method": (_("Payment method"), None, False),
    "payment_settings": (_("Payment combination rules"), None, False),
    "fee_rule": (_("Fee rule"), None, False),
    "cashback_rule": (_("Cashback rule"), "wallets:wallet_list", False),
}

# The kinds an entry is filed under (the page it shows on): the filter's choices.
PAGE_KINDS = [
    "request",
    "scenario",
    "template",
    "form",
    "webhook_endpoint",
    "api_key",
    "provider_credential",
    "merchant",
    "team",
    "payment_method",
    "payment_settings",
    "fee_rule",
    "cashback_rule",
]


def kind_label(kind: str) -> str:
    return str(KINDS.get(kind, (kind, None, False))[0])


def object_url(kind: str, object_id: str) -> str | None:
    """The page an entry's object shows on; None for settings with no page of their own."""
    _label, route, with_id = KINDS.get(kind, (kind, None, False))
    if route is None or (with_id and not object_id):
        return None
    try:
        return reverse(route, kwargs={"public_id": object_id}) if with_id else reverse(route)
    except NoReverseMatch:
        return None
