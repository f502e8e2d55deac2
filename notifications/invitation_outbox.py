"""The team invitation email: the ``team_invitation`` outbox kind. Planned in the
invitation's transaction (merchants.services.invitation_create calls ``invitation_plan``,
registered from NotificationsConfig.ready) and sent in the merchant's language with the
signed link; a revoked or accepted invitation is skipped if it is still waiting."""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import pgettext_lazy

from merchants.models import Invitation
from merchants.services import invitation_token

from .channels import OutgoingMessage
from .kinds import OutboxKind, outbox_kind_register
from .models import Dispatch
from .services import outbox_enqueue

KIND = "team_invitation"
# The roles as the team page names them, in the email's language.
ROLE_LABELS = {
    "owner": pgettext_lazy("role", "Owner"),
    "admin": pgettext_lazy("role", "Admin"),
    "agent": pgettext_lazy("role", "Agent"),
    "viewer": pgettext_lazy("role", "Viewer"),
}


def invitation_plan(invitation: Invitation) -> None:
    merchant = invitation.merchant
    outbox_enqueue(
        kind=KIND,
        merchant_id=merchant.pk,
        # A real person at a real address: never the sandbox outbox of test mode.
        livemode=True,
        channel="email",
        recipient=invitation.email,
        language=merchant.default_language,
        source_id=invitation.public_id,
        dedupe_key=f"team-invitation:{invitation.public_id}",
    )


def _prepare(dispatch: Dispatch) -> str:
    invitation = (
        Invitation.objects.select_related("merchant", "invited_by")
        .filter(merchant_id=dispatch.merchant_id, public_id=dispatch.source_id)
        .first()
    )
    dispatch.invitation = invitation
    if invitation is None:
        return "invitation_not_found"
    if not invitation.is_open or invitation.expires_at <= timezone.now():
        return "invitation_closed"
    return ""


def _build(dispatch: Dispatch) -> OutgoingMessage:
    invitation = dispatch.invitation
    context = {
        "merchant": invitation.merchant,
        "invitation": invitation,
        "inviter": invitation.invited_by.email if invitation.invited_by else "",
        "role": ROLE_LABELS.get(invitation.role, invitation.role),
        "join_url": settings.PUBLIC_BASE_URL
        + reverse("invitations:join", args=[invitation_token(invitation)]),
    }
    with translation.override(dispatch.language):
        context["role"] = str(context["role"])
        subject = render_to_string("emails/team_invitation_subject.txt", context).strip()
        text = render_to_string("emails/team_invitation_body.txt", context)
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=invitation.merchant_id,
        to=dispatch.recipient,
        subject=subject,
        text=text,
        html="",
        reply_to="",
        livemode=dispatch.livemode,
    )


def register() -> None:
    from merchants.services import invitation_created_register

    outbox_kind_register(OutboxKind(name=KIND, prepare=_prepare, build=_build))
    invitation_created_register(invitation_plan)
