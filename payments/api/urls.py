from django.urls import path

from . import views

urlpatterns = [
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
