"""CentralPay's routes, mounted at /v2/rest/ (pushpay/urls.py): a client switches by changing
its base URL and its credentials."""

from django.urls import path

from . import views

app_name = "centralpay"

urlpatterns = [
    path("paymentRequest", views.PaymentRequestCreateView.as_view(), name="payment_request"),
    path(
        "paymentRequest/<str:public_id>",
        views.PaymentRequestDetailView.as_view(),
        name="payment_request_detail",
    ),
    path(
        "paymentRequest/<str:public_id>/cancel",
        views.PaymentRequestCancelView.as_view(),
        name="payment_request_cancel",
    ),
    path("transaction/<str:uuid>", views.TransactionView.as_view(), name="transaction"),
    path(
        "paymentRequestBreakdown/<str:public_id>/qrcode",
        views.BreakdownQrCodeView.as_view(),
        name="breakdown_qrcode",
    ),
    path("<path:anything>", views.not_found),
]
