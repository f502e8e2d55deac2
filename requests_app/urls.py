from django.urls import path

from . import views

app_name = "backoffice"

urlpatterns = [
    path("", views.PaymentRequestListView.as_view(), name="request_list"),
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
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("merchant/switch/", views.switch_merchant, name="switch_merchant"),
    path("mode/", views.switch_mode, name="switch_mode"),
]
