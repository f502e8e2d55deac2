from django.urls import path

from . import views

urlpatterns = [
    path("scenarios", views.ScenarioListCreateView.as_view(), name="scenario-list"),
    path("scenarios/<str:public_id>", views.ScenarioDetailView.as_view(), name="scenario-detail"),
    path(
        "scenarios/<str:public_id>/pause",
        views.ScenarioPauseView.as_view(),
        name="scenario-pause",
    ),
    path(
        "scenarios/<str:public_id>/resume",
        views.ScenarioResumeView.as_view(),
        name="scenario-resume",
    ),
    path(
        "payment-requests/<str:public_id>/notifications",
        views.NotificationListView.as_view(),
        name="notification-list",
    ),
    path(
        "payment-requests/<str:public_id>/notifications/<str:notification_id>/resend",
        views.NotificationResendView.as_view(),
        name="notification-resend",
    ),
    path("outbox", views.OutboxListView.as_view(), name="outbox-list"),
]
