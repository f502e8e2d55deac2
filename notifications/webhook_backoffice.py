"""Back-office pages for webhook endpoints: list, create (the secret shown once), edit,
enable or disable, rotate the secret, delete, and the delivery log with replays.

Thin: reads through ``notifications.selectors`` for the session's merchant and mode, changes
through ``notifications.webhooks``; a refusal is shown next to the input it names. Every
member may read; changing needs ``webhooks.manage`` (admins and owners), as for the other
configuration pages.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from pushpay.errors import DomainError
from pushpay.tenancy import MerchantViewMixin, can, require
from requests_app.events import by_integrator_name

from . import selectors, webhooks
from .models import DeliveryAttempt, WebhookEndpoint

PAGE_SIZE = 25
DELIVERY_PAGE_SIZE = 20
SECRET_SESSION_KEY = "webhook_secret_once"


def _event_choices() -> list[tuple[str, str]]:
    return [
        (webhooks.ALL_EVENTS, gettext_lazy("All events (*)")),
        *[(name, name) for name in sorted(by_integrator_name())],
    ]


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("URL"), max_length=500, strip=True)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=_event_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def add_service_error(self, exc: DomainError) -> None:
        field = (exc.field or "").split("[")[0]
        self.add_error(field if field in self.fields else None, exc.message)


class ReplaySinceForm(forms.Form):
    since = forms.DateTimeField(
        label=gettext_lazy("Failed since"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )


class WebhooksViewMixin(MerchantViewMixin):
    """Finds the endpoint named in the URL among the merchant's endpoints of the session's
    mode (404 for anyone else's, or the other mode's)."""

    def get_endpoint_or_404(self, public_id: str) -> WebhookEndpoint:
        endpoint = selectors.webhook_endpoint_get(
            merchant=self.request.merchant, livemode=self.request.livemode, public_id=public_id
        )
        if endpoint is None:
            raise Http404("No such webhook endpoint.")
        return endpoint

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"can_edit": can(self.request.membership, "webhooks.manage"), **extra}


class EndpointListView(WebhooksViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        endpoints = selectors.webhook_endpoint_list(
            merchant=request.merchant, livemode=request.livemode
        )
        page = Paginator(endpoints, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "notifications/webhook_list.html", self.context(page=page))


class EndpointCreateView(WebhooksViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "webhooks.manage")
        return self._render(WebhookEndpointForm(initial={"events": [webhooks.ALL_EVENTS]}))

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "webhooks.manage")
        form = WebhookEndpointForm(request.POST)
        if form.is_valid() and not form.cleaned_data["events"]:
            # The service also makes endpoints for scenario steps only; this page does not.
            form.add_error("events", _("Choose at least one event, or all events."))
        if form.is_valid():
            try:
                endpoint = webhooks.webhook_endpoint_create(
                    merchant=request.merchant,
                    livemode=request.livemode,
                    url=form.cleaned_data["url"],
                    description=form.cleaned_data["description"],
                    events=form.cleaned_data["events"],
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                # Shown once, on the next page, then forgotten.
                request.session[SECRET_SESSION_KEY] = [endpoint.public_id, endpoint.secret]
                messages.success(request, _("Webhook endpoint created."))
                return redirect("webhooks:endpoint_detail", endpoint.public_id)
        return self._render(form, status=422)

    def _render(self, form: WebhookEndpointForm, status: int = 200) -> HttpResponse:
        return render(
            self.request, "notifications/webhook_form.html", self.context(form=form), status=status
        )


class EndpointEditView(WebhooksViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "webhooks.manage")
        endpoint = self.get_endpoint_or_404(public_id)
        form = WebhookEndpointForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
            }
        )
        return self._render(endpoint, form)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "webhooks.manage")
        endpoint = self.get_endpoint_or_404(public_id)
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                webhooks.webhook_endpoint_update(
                    endpoint=endpoint,
                    url=form.cleaned_data["url"],
                    description=form.cleaned_data["description"],
                    events=form.cleaned_data["events"],
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("Webhook endpoint saved."))
                return redirect("webhooks:endpoint_detail", endpoint.public_id)
        return self._render(endpoint, form, status=422)

    def _render(self, endpoint, form, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "notifications/webhook_form.html",
            self.context(endpoint=endpoint, form=form),
            status=status,
        )


class EndpointDetailView(WebhooksViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        endpoint = self.get_endpoint_or_404(public_id)
        return self._render(endpoint, ReplaySinceForm(initial={"since": self._yesterday()}))

    @staticmethod
    def _yesterday():
        return timezone.localtime() - timezone.timedelta(days=1)

    def _render(self, endpoint, replay_form, status: int = 200) -> HttpResponse:
        secret = None
        shown = self.request.session.get(SECRET_SESSION_KEY)
        if shown and shown[0] == endpoint.public_id:
            secret = shown[1]
            del self.request.session[SECRET_SESSION_KEY]
        deliveries = selectors.webhook_delivery_list(
            merchant=self.request.merchant, livemode=self.request.livemode, endpoint=endpoint
        ).order_by("-created_at", "-id")
        page = Paginator(deliveries, DELIVERY_PAGE_SIZE).get_page(self.request.GET.get("page"))
        # One query for every attempt on the page, whatever its size.
        rows = list(page.object_list)
        attempts: dict[int, list[DeliveryAttempt]] = {row.pk: [] for row in rows}
        for attempt in DeliveryAttempt.objects.filter(dispatch__in=rows).order_by("id"):
            attempts[attempt.dispatch_id].append(attempt)
        return render(
            self.request,
            "notifications/webhook_detail.html",
            self.context(
                endpoint=endpoint,
                secret=secret,
                overlap=endpoint.previous_secret
                and endpoint.previous_secret_expires_at
                and endpoint.previous_secret_expires_at > timezone.now(),
                page=page,
                deliveries=[(row, attempts[row.pk]) for row in rows],
                replay_form=replay_form,
            ),
            status=status,
        )


class EndpointActionView(WebhooksViewMixin, View):
    """POST-only actions on one endpoint; GET goes back to its page."""

    def get(self, request: HttpRequest, public_id: str, **kwargs) -> HttpResponse:
        endpoint = self.get_endpoint_or_404(public_id)
        return redirect("webhooks:endpoint_detail", endpoint.public_id)


class EndpointRotateView(EndpointActionView):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "webhooks.manage")
        endpoint = webhooks.webhook_endpoint_rotate_secret(
            endpoint=self.get_endpoint_or_404(public_id)
        )
        request.session[SECRET_SESSION_KEY] = [endpoint.public_id, endpoint.secret]
        messages.success(
            request,
            _("New secret made. The previous one keeps signing until %(when)s.")
            % {
                "when": date_format(
                    timezone.localtime(endpoint.previous_secret_expires_at), "Y-m-d H:i"
                )
            }
            if endpoint.previous_secret_expires_at
            else _("New secret made."),
        )
        return redirect("webhooks:endpoint_detail", endpoint.public_id)


class EndpointToggleView(EndpointActionView):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "webhooks.manage")
        endpoint = self.get_endpoint_or_404(public_id)
        endpoint = webhooks.webhook_endpoint_update(
            endpoint=endpoint, enabled=not endpoint.is_active
        )
        messages.success(
            request,
            _("Endpoint enabled. Replay what it missed below.")
            if endpoint.is_active
            else _("Endpoint disabled: events are no longer sent to it."),
        )
        return redirect("webhooks:endpoint_detail", endpoint.public_id)


class EndpointDeleteView(EndpointActionView):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "webhooks.manage")
        endpoint = self.get_endpoint_or_404(public_id)
        try:
            webhooks.webhook_endpoint_delete(endpoint=endpoint)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("webhooks:endpoint_detail", endpoint.public_id)
        messages.success(request, _("Webhook endpoint deleted."))
        return redirect("webhooks:endpoint_list")


class EndpointReplayView(EndpointDetailView):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        endpoint = self.get_endpoint_or_404(public_id)
        return redirect("webhooks:endpoint_detail", endpoint.public_id)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "webhooks.manage")
        endpoint = self.get_endpoint_or_404(public_id)
        form = ReplaySinceForm(request.POST)
        if form.is_valid():
            try:
                result = webhooks.webhook_endpoint_replay_failed(
                    endpoint=endpoint, since=form.cleaned_data["since"]
                )
            except DomainError as exc:
                form.add_error("since" if exc.field == "since" else None, exc.message)
            else:
                messages.success(
                    request,
                    _("%(replayed)s failed deliveries replayed, %(skipped)s left alone.") % result,
                )
                return redirect("webhooks:endpoint_detail", endpoint.public_id)
        return self._render(endpoint, form, status=422)


class DeliveryReplayView(EndpointActionView):
    def _delivery_or_404(self, endpoint: WebhookEndpoint, delivery_id: str):
        delivery = (
            selectors.webhook_delivery_list(
                merchant=self.request.merchant, livemode=self.request.livemode, endpoint=endpoint
            )
            .filter(public_id=delivery_id)
            .first()
        )
        if delivery is None:
            raise Http404("No such delivery.")
        return delivery

    def get(self, request: HttpRequest, public_id: str, delivery_id: str) -> HttpResponse:
        endpoint = self.get_endpoint_or_404(public_id)
        self._delivery_or_404(endpoint, delivery_id)
        return redirect("webhooks:endpoint_detail", endpoint.public_id)

    def post(self, request: HttpRequest, public_id: str, delivery_id: str) -> HttpResponse:
        require(request, "webhooks.manage")
        endpoint = self.get_endpoint_or_404(public_id)
        delivery = self._delivery_or_404(endpoint, delivery_id)
        try:
            webhooks.webhook_delivery_replay(delivery=delivery)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Delivery replayed: it goes out within a minute."))
        return redirect("webhooks:endpoint_detail", endpoint.public_id)
