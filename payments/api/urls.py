from django.urls import path

from . import methods, views

urlpatterns = [
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
]
