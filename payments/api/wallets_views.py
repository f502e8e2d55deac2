"""Integrator API for cashback wallets: thin views over ``payments.wallet`` services.

The key's mode is the wallet's mode: a test key never sees or moves a live wallet.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import ApiError, NotFound
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pushpay.api.pagination import NewestFirstPagination
from pushpay.errors import InvalidInput

from ..wallet import selectors, services
from ..wallet.models import Wallet
from .wallets_serializers import (
    WalletAdjustmentSerializer,
    WalletCreateSerializer,
    WalletCreditSerializer,
    WalletDetailSerializer,
    WalletSerializer,
)


def _get_wallet(request: Request, public_id: str) -> Wallet:
    wallet = selectors.wallet_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if wallet is None:
        raise NotFound(f"No such wallet: '{public_id}'.")
    return wallet


def _render(request: Request, wallet: Wallet, status_code: int = 200) -> Response:
    wallet.refresh_from_db()
    context = {
        "request": request,
        "entries": selectors.wallet_entries(wallet=wallet),
        "spendable": {wallet.pk: services.wallet_spendable(wallet=wallet)},
    }
    return Response(WalletDetailSerializer(wallet, context=context).data, status=status_code)


def _holder_filter(request: Request) -> dict[str, str]:
    email = request.query_params.get("holder_email", "")
    phone = request.query_params.get("holder_phone", "")
    if not email and not phone:
        return {}
    try:
        if email and phone:
            raise InvalidInput(
                "Filter by holder_email or by holder_phone.",
                code="holder_required",
                field="holder_email",
            )
        found_email, found_phone = services.holder_clean(holder_email=email, holder_phone=phone)
    except InvalidInput as refusal:
        raise ApiError(refusal.message, code="invalid_filter", field=refusal.field) from None
    return {"holder_email": found_email, "holder_phone": found_phone}


class WalletListCreateView(APIView):
    @extend_schema(
        responses=WalletSerializer(many=True),
        parameters=[
            OpenApiParameter("holder_email", str),
            OpenApiParameter("holder_phone", str, description="E.164."),
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.wallet_list(
            merchant=request.auth.merchant,
            livemode=request.auth.livemode,
            **_holder_filter(request),
        )
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        context = {
            "request": request,
            "spendable": selectors.wallets_spendable(wallets=page),
        }
        return paginator.get_paginated_response(
            WalletSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        request=WalletCreateSerializer,
        responses={201: WalletDetailSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = WalletCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wallet = services.wallet_create(
            merchant=request.auth.merchant,
            livemode=request.auth.livemode,
            **serializer.validated_data,
        )
        return _render(request, wallet, status.HTTP_201_CREATED)


class WalletDetailView(APIView):
    @extend_schema(responses=WalletDetailSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return _render(request, _get_wallet(request, public_id))


class WalletCreditView(APIView):
    @extend_schema(
        request=WalletCreditSerializer,
        responses={201: WalletDetailSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        wallet = _get_wallet(request, public_id)
        serializer = WalletCreditSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.wallet_credit(wallet=wallet, **serializer.validated_data)
        return _render(request, wallet, status.HTTP_201_CREATED)


class WalletAdjustmentView(APIView):
    @extend_schema(
        request=WalletAdjustmentSerializer,
        responses={201: WalletDetailSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        wallet = _get_wallet(request, public_id)
        serializer = WalletAdjustmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.wallet_adjust(wallet=wallet, **serializer.validated_data)
        return _render(request, wallet, status.HTTP_201_CREATED)
