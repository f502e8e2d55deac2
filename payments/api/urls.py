from django.urls import path

from . import views

urlpatterns = [
    path("wallets", views.WalletListCreateView.as_view(), name="wallet-list"),
    path("wallets/<str:public_id>", views.WalletDetailView.as_view(), name="wallet-detail"),
    path(
        "wallets/<str:public_id>/credits", views.WalletCreditView.as_view(), name="wallet-credits"
    ),
    path(
        "wallets/<str:public_id>/adjustments",
        views.WalletAdjustmentView.as_view(),
        name="wallet-adjustments",
    ),
]
