"""Back-office pages for the merchant itself: its API keys, its settings and its team (and
the invitation link that lets someone join it).

Thin: reads through ``merchants.selectors`` for the session's merchant (and mode, for keys),
changes through ``merchants.services``. Every member may read; creating and revoking keys
needs ``api_keys.manage`` (owners), changing the team ``team.manage`` (owners, never
leaving the merchant without one), changing the settings ``branding.manage`` (admins and
owners), as in the roles table of docs/operations.md.
"""

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views import View

from pushpay.errors import DomainError
from pushpay.i18n import LANGUAGES
from pushpay.money import active_currencies
from pushpay.tenancy import SESSION_KEY, MerchantViewMixin, can, require

from . import selectors, services
from .models import ApiKey, Membership, Merchant

# The secret of the key just created, for the next page only: read once, then deleted.
SECRET_SESSION_KEY = "api_key_secret_once"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=ApiKey._meta.get_field("name").max_length,
        strip=True,
        help_text=gettext_lazy("What uses this key, such as the shop server."),
    )


class ApiKeyListView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        keys = selectors.api_key_list(merchant=request.merchant, livemode=request.livemode)
        created = None
        shown = request.session.pop(SECRET_SESSION_KEY, None)
        if isinstance(shown, list) and len(shown) == 2:
            key = keys.filter(public_id=shown[0]).first()
            created = (key, shown[1]) if key is not None else None
        return render(
            request,
            "merchants/api_key_list.html",
            {
                "keys": keys.select_related("created_by"),
                "created": created,
                "can_manage": can(request.membership, "api_keys.manage"),
                "form": ApiKeyForm(),
            },
        )


class ApiKeyCreateView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "api_keys.manage")
        return self._render(ApiKeyForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "api_keys.manage")
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                created = services.api_key_create(
                    merchant=request.merchant,
                    name=form.cleaned_data["name"],
                    # The key is made for the mode the operator is looking at, never the other.
                    mode=ApiKey.Mode.LIVE if request.livemode else ApiKey.Mode.TEST,
                    created_by=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.localized)
            else:
                request.session[SECRET_SESSION_KEY] = [created.api_key.public_id, created.secret]
                messages.success(request, _("API key created."))
                return redirect("merchants:api_key_list")
        return self._render(form, status=422)

    def _render(self, form: ApiKeyForm, status: int = 200) -> HttpResponse:
        return render(self.request, "merchants/api_key_form.html", {"form": form}, status=status)


class ApiKeyRevokeView(MerchantViewMixin, View):
    """GET asks for confirmation, POST revokes: an integration stops at once."""

    def _key_or_404(self, public_id: str) -> ApiKey:
        key = selectors.api_key_get(
            merchant=self.request.merchant, livemode=self.request.livemode, public_id=public_id
        )
        if key is None:
            raise Http404("No such API key.")
        return key

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "api_keys.manage")
        key = self._key_or_404(public_id)
        if not key.is_active:
            return redirect("merchants:api_key_list")
        return render(
            request,
            "merchants/confirm.html",
            {
                "title": _("Revoke the key %(name)s?") % {"name": key.name},
                "explanation": _(
                    "Every call made with this key (%(prefix)s...) is refused from now on. "
                    "This cannot be undone."
                )
                % {"prefix": key.prefix},
                "action": reverse("merchants:api_key_revoke", args=[key.public_id]),
                "button": _("Revoke"),
                "back": reverse("merchants:api_key_list"),
                "danger": True,
            },
        )

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "api_keys.manage")
        key = services.api_key_revoke(api_key=self._key_or_404(public_id))
        messages.success(request, _("API key %(name)s revoked.") % {"name": key.name})
        return redirect("merchants:api_key_list")


# --- Settings -------------------------------------------------------------------------------


@cache
def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(active_currencies())]


class MerchantSettingsForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, strip=True)
    brand_color = forms.RegexField(
        label=gettext_lazy("Brand colour"),
        regex=r"^#[0-9a-fA-F]{6}$",
        error_messages={"invalid": gettext_lazy("Use a colour such as #0d6efd.")},
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    contact_email = forms.EmailField(
        label=gettext_lazy("Contact email"),
        required=False,
        help_text=gettext_lazy("Shown to payers who need help."),
    )
    sender_name = forms.CharField(
        label=gettext_lazy("Sender name"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("The name payers see as the sender of your emails."),
    )
    reply_to_email = forms.EmailField(
        label=gettext_lazy("Reply-to address"),
        required=False,
        help_text=gettext_lazy("Where payers' replies go; the contact email when empty."),
    )
    default_language = forms.ChoiceField(label=gettext_lazy("Default language"), choices=LANGUAGES)
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"), choices=_zone_choices)
    default_currency = forms.ChoiceField(
        label=gettext_lazy("Default currency"), choices=_currency_choices
    )
    # A plain file input: the service decodes the image itself (forms.ImageField would too,
    # but its message names no size or format).
    logo = forms.FileField(
        label=gettext_lazy("Logo"),
        required=False,
        help_text=gettext_lazy("PNG, JPEG or WebP, 512 KB and 2000 pixels at most."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )

    # Owners only: the view leaves it out of every other role's changes.
    two_factor_policy = forms.ChoiceField(
        label=gettext_lazy("Two-factor login"),
        choices=lambda: [
            (Merchant.TwoFactorPolicy.OPTIONAL, gettext_lazy("Optional: each member chooses")),
            (Merchant.TwoFactorPolicy.OWNERS, gettext_lazy("Required for owners")),
            (Merchant.TwoFactorPolicy.EVERYONE, gettext_lazy("Required for every member")),
        ],
        required=False,
        help_text=gettext_lazy(
            "Members it applies to must log in with a code from their phone to work for this "
            "merchant. Only owners change this."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            if name == "brand_color":
                css = "form-control form-control-color"
            if self.is_bound and self.errors.get(name):
                css += " is-invalid"
            field.widget.attrs.setdefault("class", css)


SETTINGS_FIELDS = tuple(
    name for name in MerchantSettingsForm.base_fields if name not in ("logo", "two_factor_policy")
)


class MerchantSettingsView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        merchant: Merchant = request.merchant
        form = MerchantSettingsForm(
            initial={
                **{name: getattr(merchant, name) for name in SETTINGS_FIELDS},
                "logo": merchant.logo or None,
                "two_factor_policy": merchant.two_factor_policy,
            }
        )
        return self._render(form)

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "branding.manage")
        form = MerchantSettingsForm(request.POST, request.FILES)
        if form.is_valid():
            data = dict(form.cleaned_data)
            logo = data.pop("logo", None)
            policy = data.pop("two_factor_policy", "") or request.merchant.two_factor_policy
            try:
                with transaction.atomic():
                    merchant = services.merchant_update(merchant=request.merchant, **data)
                    if (
                        can(request.membership, "security.manage")
                        and policy != merchant.two_factor_policy
                    ):
                        merchant = services.merchant_two_factor_policy_set(
                            merchant=merchant,
                            policy=policy,
                            actor_has_two_factor=request.user.is_verified(),
                        )
                    # False: the "clear" box was ticked; None: nothing uploaded.
                    if logo is False:
                        services.merchant_logo_set(merchant=merchant, upload=None)
                    elif logo:
                        services.merchant_logo_set(merchant=merchant, upload=logo)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Settings saved."))
                return redirect("merchants:settings")
        return self._render(form, status=422)

    def _render(self, form: MerchantSettingsForm, status: int = 200) -> HttpResponse:
        can_edit = can(self.request.membership, "branding.manage")
        if not can_edit:
            for field in form.fields.values():
                field.disabled = True
        if not can(self.request.membership, "security.manage"):
            form.fields["two_factor_policy"].disabled = True
        return render(
            self.request,
            "merchants/settings.html",
            {"form": form, "can_edit": can_edit},
            status=status,
        )


# --- Team -----------------------------------------------------------------------------------


def _role_choices() -> list[tuple[str, str]]:
    labels = {
        Membership.Role.OWNER: pgettext_lazy("role", "Owner"),
        Membership.Role.ADMIN: pgettext_lazy("role", "Admin"),
        Membership.Role.AGENT: pgettext_lazy("role", "Agent"),
        Membership.Role.VIEWER: pgettext_lazy("role", "Viewer"),
    }
    return [(value, labels[value]) for value in Membership.Role.values]


class InvitationForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Email"), max_length=254)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=_role_choices)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=_role_choices)


class TeamViewMixin(MerchantViewMixin):
    def member_or_404(self, public_id: str) -> Membership:
        member = selectors.membership_get_by_public_id(
            merchant=self.request.merchant, public_id=public_id
        )
        if member is None:
            raise Http404("No such member.")
        return member

    def render_team(self, invite_form: InvitationForm | None = None, status: int = 200):
        request = self.request
        return render(
            request,
            "merchants/team.html",
            {
                "members": selectors.membership_list(merchant=request.merchant),
                "invitations": selectors.invitation_open_list(merchant=request.merchant),
                "can_manage": can(request.membership, "team.manage"),
                "invite_form": invite_form or InvitationForm(initial={"role": "agent"}),
                "roles": _role_choices(),
                "now": timezone.now(),
            },
            status=status,
        )


class TeamView(TeamViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_team()


class InvitationCreateView(TeamViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("merchants:team")

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "team.manage")
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    merchant=request.merchant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.localized)
            else:
                messages.success(
                    request,
                    _("Invitation sent to %(email)s.") % {"email": invitation.email},
                )
                return redirect("merchants:team")
        return self.render_team(form, status=422)


class InvitationRevokeView(TeamViewMixin, View):
    def _invitation_or_404(self, public_id: str):
        invitation = selectors.invitation_get(merchant=self.request.merchant, public_id=public_id)
        if invitation is None:
            raise Http404("No such invitation.")
        return invitation

    def get(self, request: HttpRequest, invitation_id: str) -> HttpResponse:
        self._invitation_or_404(invitation_id)
        return redirect("merchants:team")

    def post(self, request: HttpRequest, invitation_id: str) -> HttpResponse:
        require(request, "team.manage")
        invitation = services.invitation_revoke(invitation=self._invitation_or_404(invitation_id))
        messages.success(
            request, _("Invitation to %(email)s revoked.") % {"email": invitation.email}
        )
        return redirect("merchants:team")


class MemberRoleView(TeamViewMixin, View):
    def get(self, request: HttpRequest, member_id: str) -> HttpResponse:
        self.member_or_404(member_id)
        return redirect("merchants:team")

    def post(self, request: HttpRequest, member_id: str) -> HttpResponse:
        require(request, "team.manage")
        member = self.member_or_404(member_id)
        form = RoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose one of the roles."))
            return redirect("merchants:team")
        try:
            member = services.membership_change_role(
                membership=member, role=form.cleaned_data["role"]
            )
        except DomainError as exc:
            messages.error(request, _last_owner_message(exc))
        else:
            messages.success(
                request,
                _("%(email)s is now %(role)s.")
                % {"email": member.user.email, "role": dict(_role_choices())[member.role]},
            )
        return redirect("merchants:team")


class MemberRemoveView(TeamViewMixin, View):
    def get(self, request: HttpRequest, member_id: str) -> HttpResponse:
        require(request, "team.manage")
        member = self.member_or_404(member_id)
        return render(
            request,
            "merchants/confirm.html",
            {
                "title": _("Remove %(email)s from the team?") % {"email": member.user.email},
                "explanation": _(
                    "They lose access to this merchant at once. Their login stays, and so "
                    "do their other merchants."
                ),
                "action": reverse("merchants:member_remove", args=[member.public_id]),
                "button": _("Remove"),
                "back": reverse("merchants:team"),
                "danger": True,
            },
        )

    def post(self, request: HttpRequest, member_id: str) -> HttpResponse:
        require(request, "team.manage")
        member = self.member_or_404(member_id)
        try:
            services.membership_remove(membership=member)
        except DomainError as exc:
            messages.error(request, _last_owner_message(exc))
        else:
            messages.success(
                request, _("%(email)s removed from the team.") % {"email": member.user.email}
            )
        return redirect("merchants:team")


def _last_owner_message(exc: DomainError) -> str:
    if exc.code == "last_owner":
        return _("This is the merchant's last owner: make another member owner first.")
    return exc.localized


# --- Joining (no merchant yet: not under /app/) ---------------------------------------------

UNUSABLE = {
    "invalid": gettext_lazy("This invitation link is not valid."),
    "expired": gettext_lazy("This invitation has expired: ask the team for a new one."),
    "used": gettext_lazy("This invitation was already used. Log in to reach the team."),
    "revoked": gettext_lazy("This invitation was withdrawn."),
    "other_user": gettext_lazy(
        "You are logged in with another email than the invited one: log out, then open "
        "the link again."
    ),
    "existing_user": gettext_lazy("A login exists for this email: log in, then open the link."),
}


class PasswordForm(forms.Form):
    password1 = forms.CharField(
        label=gettext_lazy("Password"), widget=forms.PasswordInput, max_length=128, strip=False
    )
    password2 = forms.CharField(
        label=gettext_lazy("Password again"),
        widget=forms.PasswordInput,
        max_length=128,
        strip=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class JoinView(View):
    """The invitation link: a new address sets a password, an existing login (logged in with
    that email) joins with one click."""

    def _render(self, request, invitation=None, *, reason=None, form=None, status=200):
        User = get_user_model()
        has_login = (
            invitation is not None and User.objects.filter(username=invitation.email).exists()
        )
        return render(
            request,
            "merchants/join.html",
            {
                "invitation": invitation,
                "problem": UNUSABLE.get(reason) if reason else None,
                "has_login": has_login,
                "form": form or PasswordForm(),
                "login_url": f"{reverse('login')}?next={request.path}",
            },
            status=status,
        )

    def _invitation(self, token: str):
        return services.invitation_from_token(token)

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            invitation = self._invitation(token)
        except services.InvitationUnusable as exc:
            return self._render(request, reason=exc.reason, status=_status(exc.reason))
        return self._render(request, invitation)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            invitation = self._invitation(token)
            if request.user.is_authenticated:
                membership = services.invitation_accept(invitation=invitation, user=request.user)
            else:
                form = PasswordForm(request.POST)
                if not form.is_valid():
                    return self._render(request, invitation, form=form, status=422)
                try:
                    membership = services.invitation_accept_new_user(
                        invitation=invitation, password=form.cleaned_data["password1"]
                    )
                except ValidationError as exc:
                    form.add_error("password1", exc.messages)
                    return self._render(request, invitation, form=form, status=422)
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        except services.InvitationUnusable as exc:
            return self._render(request, reason=exc.reason, status=_status(exc.reason))
        request.session[SESSION_KEY] = membership.merchant_id
        messages.success(
            request, _("Welcome to the team of %(merchant)s.") % {"merchant": membership.merchant}
        )
        return redirect("backoffice:request_list")


def _status(reason: str) -> int:
    return {"invalid": 404, "expired": 410, "used": 410, "revoked": 410}.get(reason, 409)
