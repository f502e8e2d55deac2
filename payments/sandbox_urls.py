"""The sandbox acquirer's endpoints, mounted at /sandbox/ by the project's URLconf."""

from django.urls import path

from .sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("tokens", views.TokenCreateView.as_view(), name="tokens"),
    path("3ds/<str:public_id>/", views.challenge, name="challenge"),
    path(
        "holiday-vouchers/<str:number>",
        views.VoucherBalanceView.as_view(),
        name="holiday_voucher_balance",
    ),
]

# The sandbox PayPal's approval link (its own module, like its books).
from .sandbox import paypal_views  # noqa: E402

urlpatterns += [path("paypal/<str:public_id>/", paypal_views.approve, name="paypal_approve")]
