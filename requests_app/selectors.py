"""Reads of payment requests, always scoped to one merchant (ARCHITECTURE.md guarantee 5).

Another merchant's object is simply not found: callers turn that into a 404.
"""

from django.db.models import Prefetch, Q, QuerySet

from merchants.models import Merchant

from .events import integrator_types
from .models import CsvJob, Participant, PaymentRequest, RequestEvent, StatusChange


def payment_request_list(*, merchant: Merchant, livemode: bool) -> QuerySet[PaymentRequest]:
    """Requests of one mode with their participants prefetched: two queries whatever the page
    size. The mode is a wall like the merchant: a test key never sees a live request.

    Filtering by status, reference and dates is requests_app.filters.PaymentRequestFilter,
    applied on top of this queryset.
    """
    return (
        PaymentRequest.objects.filter(merchant=merchant, livemode=livemode)
        .select_related("form_version__form", "scenario_binding__scenario")
        .prefetch_related(
            Prefetch("participants", queryset=Participant.objects.order_by("position", "id"))
        )
    )


def payment_request_get(
    *, merchant: Merchant, livemode: bool, public_id: str
) -> PaymentRequest | None:
    return (
        payment_request_list(merchant=merchant, livemode=livemode)
        .filter(public_id=public_id)
        .first()
    )


def participants_in_order(payment_request: PaymentRequest) -> list[Participant]:
    """A request's participants by position: those it carries when they came with it (a
    prefetch, or the creation that wrote them, see ``participants_attach``), else read."""
    cached = getattr(payment_request, "_prefetched_objects_cache", {}).get("participants")
    if cached is not None:
        return sorted(cached, key=lambda p: (p.position, p.pk or 0))
    return list(
        Participant.objects.filter(request_id=payment_request.pk).order_by("position", "id")
    )


def participants_attach(payment_request: PaymentRequest, participants: list[Participant]) -> None:
    """Make ``participants`` the request's prefetched participants, as
    ``prefetch_related("participants")`` would: the creation that just wrote them hands the
    request to its reactions and to the API's answer without reading them back."""
    queryset = Participant.objects.filter(request_id=payment_request.pk).order_by("position", "id")
    queryset._result_cache = list(participants)
    queryset._prefetch_done = True
    payment_request._prefetched_objects_cache = {
        **getattr(payment_request, "_prefetched_objects_cache", {}),
        "participants": queryset,
    }


def participant_get(
    *, merchant: Merchant, payment_request: PaymentRequest, public_id: str
) -> Participant | None:
    return Participant.objects.filter(
        merchant=merchant, request=payment_request, public_id=public_id
    ).first()


def participant_find(*, merchant: Merchant, livemode: bool, public_id: str) -> Participant | None:
    """A participant by its own id, without its request's: CentralPay clients address a
    breakdown directly (``/paymentRequestBreakdown/{id}/qrcode``)."""
    return (
        Participant.objects.select_related("request")
        .filter(merchant=merchant, livemode=livemode, public_id=public_id)
        .first()
    )


def participant_by_link_token(*, token: str) -> Participant | None:
    """The payer's entry point: the unguessable token is the only credential."""
    return (
        Participant.objects.select_related("request", "request__merchant")
        .filter(link_token=token)
        .first()
    )


def status_history(*, payment_request: PaymentRequest) -> QuerySet[StatusChange]:
    return StatusChange.objects.filter(request=payment_request).select_related("participant")


def participant_can_pay(*, participant: Participant) -> bool:
    """The same rule the saga applies before taking money (``PaymentRequest.is_collecting``)."""
    return participant.request.is_collecting and participant.status in Participant.UNPAID


def payment_request_by_progress_token(*, token: str) -> PaymentRequest | None:
    """The public progress page's entry point: its unguessable token is the credential."""
    return (
        PaymentRequest.objects.select_related("merchant")
        .prefetch_related("participants")
        .filter(progress_token=token)
        .first()
    )


def payment_requests_past_expiry(*, now, limit: int = 200) -> list[int]:
    """Ids of still-collecting requests whose expiry has passed, for the closing job.

    The one read that spans merchants: the job then handles each request on its own.
    """
    return list(
        PaymentRequest.objects.filter(status__in=PaymentRequest.COLLECTING, expires_at__lte=now)
        .order_by("expires_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


# Payload keys that hold the public id of another object (a checkout, a plan …): the events
# API finds an object's events through them as well as through the request and participant.
EVENT_OBJECT_KEYS = (
    "participant",
    "checkout",
    "plan",
    "installment",
    "reconciliation",
    "dispute",
)


def event_object_match(object_id: str) -> Q:
    """Events about ``object_id``: as their request, their participant or in their payload."""
    match = Q(request__public_id=object_id) | Q(participant__public_id=object_id)
    for key in EVENT_OBJECT_KEYS:
        match |= Q(**{f"payload__{key}": object_id})
    return match


def event_list(*, merchant: Merchant, livemode: bool) -> QuerySet[RequestEvent]:
    """One merchant's events of one mode, with their request and participant joined; only
    the types the catalogue shows integrators. Filters are requests_app.filters.EventFilter,
    applied on top of this queryset."""
    return RequestEvent.objects.filter(
        merchant=merchant, livemode=livemode, type__in=integrator_types()
    ).select_related("request", "participant")


def event_get(*, merchant: Merchant, livemode: bool, public_id: str) -> RequestEvent | None:
    return event_list(merchant=merchant, livemode=livemode).filter(public_id=public_id).first()


def request_events(*, payment_request: PaymentRequest) -> QuerySet[RequestEvent]:
    """Everything recorded about one request, oldest first, for its timeline."""
    return RequestEvent.objects.filter(
        merchant_id=payment_request.merchant_id, request=payment_request
    ).select_related("participant")


def csv_job_get(*, merchant, livemode: bool, public_id: str) -> CsvJob | None:
    """A merchant's import or export job in the current mode; None for anyone else's."""
    return CsvJob.objects.filter(merchant=merchant, livemode=livemode, public_id=public_id).first()


def requests_matching(*, merchant, livemode: bool, query, currency: str):
    """Every request the back-office list's filters (a query string) match, participants
    prefetched; (queryset, None) or (None, the filter form's errors). The scenario and method
    values were checked by the view against the downstream apps' choices; here they are taken
    as given, since requests_app does not read those apps."""
    from .filters import BackOfficeRequestFilter

    def given(name: str) -> list[tuple[str, str]]:
        value = query.get(name) if hasattr(query, "get") else None
        return [(value, value)] if value else []

    filterset = BackOfficeRequestFilter(
        query,
        queryset=payment_request_list(merchant=merchant, livemode=livemode),
        currency=currency,
        scenario_choices=given("scenario"),
        method_choices=given("method"),
    )
    if not filterset.is_valid():
        return None, filterset.errors
    return filterset.qs, None
