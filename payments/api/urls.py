from django.urls import path

from . import methods, views, wallets_views

urlpatterns = [
    path("wallets", wallets_views.WalletListCreateView.as_view(), name="wallet-list"),
    path("wallets/<str:public_id>", wallets_views.WalletDetailView.as_view(), name="wallet-detail"),
    path(
        "wallets/<str:public_id>/credits",
        wallets_views.WalletCreditView.as_view(),
        name="wallet-credits",
    ),
    path(
        "wallets/<str:public_id>/adjustments",
        wallets_views.WalletAdjustmentView.as_view(),
        name="wallet-adjustments",
    ),
    path("payment-methods", methods.PaymentMethodListView.as_view(), name="payment-method-list"),
    path(
        "payment-methods/<str:code>",
        methods.PaymentMethodDetailView.as_view(),
        name="payment-method-detail",
    ),
    path(
        "payment-requests/<str:public_id>/reconciliation",
        views.ReconciliationView.as_view(),
        name="payment-request-reconciliation",
    ),
    path(
        "payment-requests/<str:public_id>/reconciliation.csv",
        views.ReconciliationCsvView.as_view(),
        name="payment-request-reconciliation-csv",
    ),
    path("refunds", views.RefundListView.as_view(), name="refund-list"),
    path(
        "reconciliations",
        views.DailyReconciliationListView.as_view(),
        name="daily-reconciliation-list",
    ),
    path(
        "reconciliations/<str:public_id>",
        views.DailyReconciliationDetailView.as_view(),
        name="daily-reconciliation-detail",
    ),
    path(
        "reconciliations/<str:public_id>/download",
        views.DailyReconciliationDownloadView.as_view(),
        name="daily-reconciliation-download",
    ),
]
