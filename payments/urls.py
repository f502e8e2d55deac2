from django.urls import path

from . import views

app_name = "reconciliation"

urlpatterns = [
    path(
        "requests/<str:public_id>/reconciliation/",
        views.RequestReconciliationView.as_view(),
        name="request",
    ),
    path(
        "requests/<str:public_id>/reconciliation.csv",
        views.RequestReconciliationCsvView.as_view(),
        name="request_csv",
    ),
    path("reconciliations/", views.DailyReconciliationListView.as_view(), name="daily_list"),
    path(
        "reconciliations/<str:public_id>/download.csv",
        views.DailyReconciliationCsvView.as_view(),
        name="daily_csv",
    ),
]
