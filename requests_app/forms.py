"""Back-office forms for payment requests: they parse what an operator typed (amounts in major
units, dates in the merchant's time zone) and hold no rule of their own; the services decide.

Choices that belong to downstream apps (scenarios, smart forms, payment methods) are handed
in by the views, which may read those apps: this module imports none of them.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from pushpay.i18n import LANGUAGES
from pushpay.money import AmountSyntaxError, is_currency, parse_major_amount

from .models import PaymentRequest
from .services import MAX_PARTICIPANTS

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# The form fields of the installment settings, by their key in the service's ``installments``
# dict (docs/api.md); the view maps a refusal at ``installments.<key>`` back to its field.
INSTALLMENT_FIELDS = {
    "count": "installments_count",
    "interval_unit": "installments_interval_unit",
    "interval_count": "installments_interval_count",
    "start_date": "installments_start_date",
    "deposit_amount": "installments_deposit_amount",
    "deposit_date": "installments_deposit_date",
    "fee_amount": "installments_fee_amount",
    "pay_at_once_allowed": "installments_pay_at_once_allowed",
}


def amount_in_minor_units(form: forms.Form, name: str, currency: str) -> int | None:
    """The major-unit text of field ``name`` in minor units of ``currency``, or None when
    blank; a malformed amount becomes an error at that field (and None)."""
    text = (form.cleaned_data.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_major_amount(text, currency)
    except AmountSyntaxError as exc:
        form.add_error(name, ValidationError(_("Enter an amount such as 12.50."), code=exc.code))
        return None


def _amount_field(label, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        **kwargs,
    )


class PaymentRequestForm(forms.Form):
    """The request itself; its participants are ``ParticipantFormSet``."""

    reference = forms.CharField(label=_("Reference"), max_length=100)
    description = forms.CharField(
        label=_("Description"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    currency = forms.CharField(label=_("Currency"), min_length=3, max_length=3)
    amount_mode = forms.ChoiceField(
        label=_("Kind of amounts"),
        choices=[
            (PaymentRequest.AmountMode.FIXED, _("Fixed shares")),
            (PaymentRequest.AmountMode.FREE, _("Free amounts")),
        ],
        initial=PaymentRequest.AmountMode.FIXED,
        widget=forms.RadioSelect,
    )
    total_amount = _amount_field(_("Total"), help_text=_("In free mode, an optional target."))
    split_equally = forms.BooleanField(
        label=_("Split the total equally between the participants"), required=False
    )
    min_amount = _amount_field(_("Minimum per payment"), help_text=_("Free mode only."))
    max_amount = _amount_field(_("Maximum per payment"), help_text=_("Free mode only."))
    deadline = forms.DateTimeField(label=_("Deadline"), required=False, widget=DATETIME_INPUT)
    expires_at = forms.DateTimeField(
        label=_("Expiry"),
        required=False,
        widget=DATETIME_INPUT,
        help_text=_("After this, nothing more is collected."),
    )
    language = forms.ChoiceField(label=_("Payers' language"), choices=LANGUAGES)
    scenario = forms.ChoiceField(label=_("Scenario"), required=False)
    form = forms.ChoiceField(label=_("Smart form"), required=False)
    allowed_payment_methods = forms.MultipleChoiceField(
        label=_("Payment methods"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every method the merchant enabled."),
    )
    capture_mode = forms.ChoiceField(
        label=_("Capture"),
        choices=[
            (PaymentRequest.CaptureMode.IMMEDIATE, _("Take each payment at once")),
            (
                PaymentRequest.CaptureMode.ON_COMPLETION,
                _("Hold payments until every share is held"),
            ),
        ],
        initial=PaymentRequest.CaptureMode.IMMEDIATE,
        widget=forms.RadioSelect,
    )
    # Installments: the bounds (2 to 12, the interval limits) are the schedule's rules, told
    # by the service at each field; the inputs only hint them.
    installments = forms.BooleanField(label=_("Offer payment in installments"), required=False)
    installments_count = forms.IntegerField(
        label=_("Number of installments"),
        required=False,
        initial=3,
        widget=forms.NumberInput(attrs={"min": 2, "max": 12}),
        help_text=_("2 to 12, not counting the deposit."),
    )
    installments_interval_unit = forms.ChoiceField(
        label=_("Every"),
        required=False,
        initial="month",
        choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
    )
    installments_interval_count = forms.IntegerField(
        label=_("Interval count"),
        required=False,
        initial=1,
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text=_("For instance 2 with Week: every two weeks."),
    )
    installments_start_date = forms.DateField(
        label=_("First installment on"),
        required=False,
        widget=DATE_INPUT,
        help_text=_("Empty: the day the payer pays."),
    )
    installments_deposit_amount = _amount_field(_("Deposit"))
    installments_deposit_date = forms.DateField(
        label=_("Deposit due on"),
        required=False,
        widget=DATE_INPUT,
        help_text=_("Empty: the day the payer pays."),
    )
    installments_fee_amount = _amount_field(
        _("Installment fee"), help_text=_("Paid by the payer on top of the share.")
    )
    installments_pay_at_once_allowed = forms.BooleanField(
        label=_("Payers may also pay at once"), required=False, initial=True
    )

    def __init__(
        self,
        *args,
        scenario_choices: list[tuple[str, str]] = (),
        form_choices: list[tuple[str, str]] = (),
        method_choices: list[tuple[str, str]] = (),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["scenario"].choices = [("", _("No scenario")), *scenario_choices]
        self.fields["form"].choices = [("", _("No smart form")), *form_choices]
        self.fields["allowed_payment_methods"].choices = list(method_choices)

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if not is_currency(currency):
            raise ValidationError(
                _("Enter an ISO 4217 currency code such as EUR."), code="unknown_currency"
            )
        return currency

    def clean(self) -> dict:
        data = super().clean()
        currency = data.get("currency") or "EUR"
        for name in ("total_amount", "min_amount", "max_amount"):
            data[f"{name}_minor"] = amount_in_minor_units(self, name, currency)
        data["installments_settings"] = (
            self._installment_settings(currency) if data.get("installments") else None
        )
        return data

    def _installment_settings(self, currency: str) -> dict:
        """The service's ``installments`` dict from the ticked settings; a blank field is
        left out, so the service applies its default (or says it is required)."""
        data = self.cleaned_data
        settings = {
            "count": data.get("installments_count"),
            "interval_unit": data.get("installments_interval_unit") or None,
            "interval_count": data.get("installments_interval_count"),
            "start_date": data.get("installments_start_date"),
            "deposit_amount": amount_in_minor_units(self, "installments_deposit_amount", currency),
            "deposit_date": data.get("installments_deposit_date"),
            "fee_amount": amount_in_minor_units(self, "installments_fee_amount", currency),
        }
        settings = {key: value for key, value in settings.items() if value is not None}
        settings["pay_at_once_allowed"] = bool(data.get("installments_pay_at_once_allowed"))
        return settings


class ParticipantForm(forms.Form):
    """One payer row. Blank rows are skipped (the formset's ``empty_permitted``)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    amount = _amount_field(_("Share"))


class BaseParticipantFormSet(forms.BaseFormSet):
    def rows(self) -> list[tuple[int, forms.Form]]:
        """The rows to create, with their index in the formset (to put errors back)."""
        return [
            (index, form)
            for index, form in enumerate(self.forms)
            if form.has_changed() and not self._should_delete_form(form)
        ]


ParticipantFormSet = forms.formset_factory(
    ParticipantForm,
    formset=BaseParticipantFormSet,
    extra=0,
    min_num=1,
    max_num=MAX_PARTICIPANTS,
    absolute_max=MAX_PARTICIPANTS,
    can_delete=True,
    validate_max=True,
)


class DeadlineForm(forms.Form):
    deadline = forms.DateTimeField(
        label=_("New deadline"),
        required=False,
        widget=DATETIME_INPUT,
        help_text=_("Leave empty for no deadline."),
    )


class ParticipantAddForm(ParticipantForm):
    """A payer added to a request that is still collecting."""


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)


class RefundForm(forms.Form):
    """Everything, or chosen participants, each for all that is left or for an amount.

    One checkbox and one amount per participant who has money to give back
    (``refund_<id>``, ``amount_<id>``).
    """

    scope = forms.ChoiceField(
        label=_("What to refund"),
        choices=[("all", _("Everything collected")), ("participants", _("Chosen participants"))],
        initial="all",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, participants=(), currency: str = "EUR", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.participants = list(participants)
        for participant in self.participants:
            self.fields[f"refund_{participant.public_id}"] = forms.BooleanField(
                label=participant.name, required=False
            )
            self.fields[f"amount_{participant.public_id}"] = _amount_field(
                _("Amount to refund (empty: all that is left)")
            )

    def rows(self):
        """(participant, checkbox field, amount field, refundable) for the template."""
        return [
            (
                p,
                self[f"refund_{p.public_id}"],
                self[f"amount_{p.public_id}"],
                max(p.amount_paid - p.amount_refunded, 0),
            )
            for p in self.participants
        ]

    def clean(self) -> dict:
        data = super().clean()
        lines = []
        if data.get("scope") == "participants":
            for participant in self.participants:
                if not data.get(f"refund_{participant.public_id}"):
                    continue
                amount = amount_in_minor_units(
                    self, f"amount_{participant.public_id}", self.currency
                )
                lines.append((participant, amount))
            if not lines and not self.errors:
                raise ValidationError(
                    _("Tick at least one participant, or refund everything."), code="required"
                )
        data["lines"] = lines
        return data


def style_fields(form: forms.Form, *, show_errors: bool = True, small: bool = False) -> None:
    """Bootstrap's classes on every widget, and on a field in error ``is-invalid``,
    ``aria-invalid`` and ``aria-describedby`` pointing at its message, so a screen reader
    reads the error with the field."""
    errors = form.errors if (form.is_bound and show_errors) else {}
    for name, field in form.fields.items():
        widget = field.widget
        if isinstance(
            widget, forms.RadioSelect | forms.CheckboxSelectMultiple | forms.CheckboxInput
        ):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select form-select-sm" if small else "form-select"
        else:
            css = "form-control form-control-sm" if small else "form-control"
        attrs = widget.attrs
        attrs["class"] = css
        bound = form[name]
        described = [f"{bound.auto_id}_help"] if field.help_text else []
        if name in errors:
            attrs["class"] += " is-invalid"
            attrs["aria-invalid"] = "true"
            described.append(f"{bound.auto_id}_error")
        else:
            attrs.pop("aria-invalid", None)
        if described:
            attrs["aria-describedby"] = " ".join(described)
