"""Integrator API for payment requests: thin views over requests_app services."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.installments import selectors as installment_selectors
from pushpay.api.errors import ApiError, NotFound
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pushpay.api.pagination import NewestFirstPagination
from pushpay.qr import qr_png
from requests_app import selectors, services
from requests_app.filters import PaymentRequestFilter
from requests_app.links import payment_url
from requests_app.models import PaymentRequest
from smartforms.selectors import form_get, latest_answers_by_participant

from . import examples
from .serializers import (
    CancelSerializer,
    ParticipantInputSerializer,
    ParticipantSerializer,
    PaymentRequestCreateSerializer,
    PaymentRequestSerializer,
    PaymentRequestUpdateSerializer,
    RefundSerializer,
)


def _get_request(request: Request, public_id: str) -> PaymentRequest:
    payment_request = selectors.payment_request_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if payment_request is None:
        raise NotFound(f"No such payment request: '{public_id}'.")
    return payment_request


def _form_or_error(request: Request, public_id: str | None):
    if not public_id:
        return None
    form = form_get(merchant=request.auth.merchant, public_id=public_id)
    if form is None:
        raise ApiError(
            f"No such form: '{public_id}'.", code="unknown_form", status_code=422, field="form"
        )
    return form


def _participant_data(data: dict) -> services.ParticipantData:
    return services.ParticipantData(
        name=data["name"],
        email=data.get("email", ""),
        phone=data.get("phone", ""),
        language=data.get("language"),
        amount=data.get("amount"),
        show_name=data.get("show_name", False),
        installments=data.get("installments"),
    )


def _context(merchant, payment_requests) -> dict:
    ids = [p.public_id for pr in payment_requests for p in pr.participants.all()]
    livemode = payment_requests[0].livemode if payment_requests else False
    disputes, participant_disputes = payment_selectors.disputes_by_request_and_participant(
        merchant=merchant, livemode=livemode, request_ids=[pr.pk for pr in payment_requests]
    )
    return {
        "disputes": disputes,
        "participant_disputes": participant_disputes,
        "form_answers": latest_answers_by_participant(merchant=merchant, participant_ids=ids),
        "checkouts": payment_selectors.checkouts_by_participant(
            merchant=merchant, livemode=livemode, participant_ids=ids
        ),
        "installment_plans": installment_selectors.installment_plans_by_participant(
            merchant=merchant, livemode=livemode, participant_ids=ids
        ),
    }


def _render(
    payment_request: PaymentRequest, status_code: int = 200, *, created: bool = False
) -> Response:
    if created:
        # Created by this very call, in the transaction still open: the instance is what was
        # written (participants attached by the creation, the scenario binding by the planner)
        # and its payers have not opened their links, so there are no answers, checkouts or
        # plans to read. Five reads saved on every create.
        binding = PaymentRequest.scenario_binding.related
        if not binding.is_cached(payment_request):
            binding.set_cached_value(payment_request, None)  # no scenario: none was bound
        return Response(PaymentRequestSerializer(payment_request).data, status=status_code)
    # Re-read through the selector so the body shows exactly what was committed.
    fresh = selectors.payment_request_get(
        merchant=payment_request.merchant,
        livemode=payment_request.livemode,
        public_id=payment_request.public_id,
    )
    return Response(
        PaymentRequestSerializer(fresh, context=_context(fresh.merchant, [fresh])).data,
        status=status_code,
    )


class PaymentRequestListCreateView(APIView):
    @extend_schema(
        responses=PaymentRequestSerializer(many=True),
        parameters=[
            OpenApiParameter("status", str, many=True, enum=PaymentRequest.Status.values),
            OpenApiParameter("reference", str),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        filterset = PaymentRequestFilter(
            request.query_params,
            queryset=selectors.payment_request_list(
                merchant=request.auth.merchant, livemode=request.auth.livemode
            ),
        )
        if not filterset.is_valid():
            field, messages = next(iter(filterset.errors.items()))
            raise ApiError(f"{field}: {messages[0]}", code="invalid_filter", field=field)
        queryset = filterset.qs
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        context = _context(request.auth.merchant, page)
        return paginator.get_paginated_response(
            PaymentRequestSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        request=PaymentRequestCreateSerializer,
        responses={201: PaymentRequestSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "A dinner split between two payers",
                value=examples.PAYMENT_REQUEST_CREATE,
                request_only=True,
            ),
            OpenApiExample(
                "The request, open, with each payer's link",
                value=examples.PAYMENT_REQUEST,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payment_request = create_from_body(request, request.data)
        return _render(payment_request, status.HTTP_201_CREATED, created=True)


def create_from_body(request: Request, body) -> PaymentRequest:
    """One creation from one body, shared by the single and the batch endpoints so that an
    item of a batch is accepted or refused exactly as the same body alone would be."""
    serializer = PaymentRequestCreateSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    participants = [_participant_data(p) for p in data.pop("participants")]
    form = _form_or_error(request, data.pop("form", None))
    data["form_version"] = form.current_version if form else None
    # The scenario is looked up (and an unknown one refused) by the reaction that plans
    # its messages, inside the creation's transaction: one read, not two.
    data["scenario"] = data.pop("scenario", None) or None
    return services.payment_request_create(
        merchant=request.auth.merchant,
        livemode=request.auth.livemode,
        participants=participants,
        **data,
    )


class PaymentRequestDetailView(APIView):
    @extend_schema(
        responses=PaymentRequestSerializer,
        examples=[OpenApiExample("A request", value=examples.PAYMENT_REQUEST, response_only=True)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        context = _context(request.auth.merchant, [payment_request])
        return Response(PaymentRequestSerializer(payment_request, context=context).data)

    @extend_schema(request=PaymentRequestUpdateSerializer, responses=PaymentRequestSerializer)
    def patch(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        serializer = PaymentRequestUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment_request = services.payment_request_update(
            payment_request=payment_request, **serializer.validated_data
        )
        return _render(payment_request)


class PaymentRequestCancelView(APIView):
    @extend_schema(
        request=CancelSerializer,
        responses=PaymentRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        serializer = CancelSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        payment_request = services.payment_request_cancel(
            payment_request=payment_request, reason=serializer.validated_data["reason"]
        )
        return _render(payment_request)


class PaymentRequestRefundView(APIView):
    @extend_schema(
        request=RefundSerializer,
        responses=PaymentRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "Give 15.00 back to one payer", value=examples.REFUND_SOME, request_only=True
            ),
            OpenApiExample("Give everything back", value=examples.REFUND_ALL, request_only=True),
        ],
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        serializer = RefundSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        lines = None
        if "participants" in serializer.validated_data:
            lines = []
            for index, line in enumerate(serializer.validated_data["participants"]):
                participant = selectors.participant_get(
                    merchant=request.auth.merchant,
                    payment_request=payment_request,
                    public_id=line["id"],
                )
                if participant is None:
                    raise ApiError(
                        f"No such participant in this request: '{line['id']}'.",
                        code="unknown_participant",
                        status_code=422,
                        field=f"participants[{index}].id",
                    )
                lines.append(payment_services.RefundLine(participant, line.get("amount")))
        payment_request = payment_services.payment_request_refund(
            payment_request=payment_request, lines=lines
        )
        return _render(payment_request)


class ParticipantCollectionView(APIView):
    @extend_schema(
        request=ParticipantInputSerializer,
        responses={201: ParticipantSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        serializer = ParticipantInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        participant = services.participant_add(
            payment_request=payment_request, data=_participant_data(serializer.validated_data)
        )
        return Response(ParticipantSerializer(participant).data, status=status.HTTP_201_CREATED)


class ParticipantDetailView(APIView):
    # The request without the participant, so a 200 (drf-spectacular assumes a 204 for DELETE).
    @extend_schema(responses={200: PaymentRequestSerializer})
    def delete(self, request: Request, public_id: str, participant_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        participant = selectors.participant_get(
            merchant=request.auth.merchant,
            payment_request=payment_request,
            public_id=participant_id,
        )
        if participant is None:
            raise NotFound(f"No such participant: '{participant_id}'.")
        payment_request = services.participant_remove(
            payment_request=payment_request, participant=participant
        )
        return _render(payment_request)


class ParticipantQrCodeView(APIView):
    """The participant's payment link as a PNG QR code."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, public_id: str, participant_id: str) -> HttpResponse:
        payment_request = _get_request(request, public_id)
        participant = selectors.participant_get(
            merchant=request.auth.merchant,
            payment_request=payment_request,
            public_id=participant_id,
        )
        if participant is None:
            raise NotFound(f"No such participant: '{participant_id}'.")
        response = HttpResponse(qr_png(payment_url(participant)), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class NotificationsPauseView(APIView):
    """POST …/notifications/pause or …/notifications/resume for one request."""

    paused = True

    @extend_schema(request=None, responses=PaymentRequestSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        payment_request = services.payment_request_set_notifications_paused(
            payment_request=_get_request(request, public_id), paused=self.paused
        )
        return _render(payment_request)
