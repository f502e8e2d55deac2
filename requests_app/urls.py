from django.urls import path

from . import csv_views, views

app_name = "backoffice"

urlpatterns = [
    path("", views.PaymentRequestListView.as_view(), name="request_list"),
    # Before requests/<public_id>/, which would otherwise read "new" as an id.
    path("requests/new/", views.PaymentRequestCreateView.as_view(), name="request_create"),
    path("requests/export/", csv_views.RequestExportView.as_view(), name="request_list_export"),
    path("requests/import/", csv_views.ImportUploadView.as_view(), name="request_import"),
    path(
        "requests/import/template.csv",
        csv_views.ImportTemplateView.as_view(),
        name="request_import_template",
    ),
    path("csv-jobs/<str:public_id>/", csv_views.CsvJobView.as_view(), name="csv_job"),
    path(
        "csv-jobs/<str:public_id>/status.json",
        csv_views.CsvJobStatusView.as_view(),
        name="csv_job_status",
    ),
    path(
        "csv-jobs/<str:public_id>/download.csv",
        csv_views.CsvJobDownloadView.as_view(),
        name="csv_job_download",
    ),
    path(
        "csv-jobs/<str:public_id>/confirm/",
        csv_views.CsvJobConfirmView.as_view(),
        name="csv_job_confirm",
    ),
    path(
        "requests/<str:public_id>/", views.PaymentRequestDetailView.as_view(), name="request_detail"
    ),
    path(
        "requests/<str:public_id>/participants/<str:participant_id>/qr.png",
        views.ParticipantQrCodeView.as_view(),
        name="participant_qr",
    ),
    path(
        "requests/<str:public_id>/export.csv",
        views.PaymentRequestExportView.as_view(),
        name="request_export",
    ),
    path(
        "requests/<str:public_id>/notifications/<str:dispatch_id>/resend/",
        views.DispatchResendView.as_view(),
        name="dispatch_resend",
    ),
    path(
        "requests/<str:public_id>/deadline/",
        views.RequestDeadlineView.as_view(),
        name="request_deadline",
    ),
    path(
        "requests/<str:public_id>/reminders/",
        views.RequestRemindersView.as_view(),
        name="request_reminders",
    ),
    path(
        "requests/<str:public_id>/cancel/", views.RequestCancelView.as_view(), name="request_cancel"
    ),
    path(
        "requests/<str:public_id>/refund/", views.RequestRefundView.as_view(), name="request_refund"
    ),
    path(
        "requests/<str:public_id>/participants/new/",
        views.ParticipantAddView.as_view(),
        name="participant_add",
    ),
    path(
        "requests/<str:public_id>/participants/<str:participant_id>/remove/",
        views.ParticipantRemoveView.as_view(),
        name="participant_remove",
    ),
    path("configuration/", views.ConfigurationView.as_view(), name="configuration"),
    path("language/", views.set_language, name="set_language"),
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("merchant/switch/", views.switch_merchant, name="switch_merchant"),
    path("mode/", views.switch_mode, name="switch_mode"),
]
