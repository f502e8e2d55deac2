from django.urls import path

from . import batch_views, events_views, views

urlpatterns = [
    path(
        "payment-requests",
        views.PaymentRequestListCreateView.as_view(),
        name="payment-request-list",
    ),
    path(
        "payment-requests/batch",
        batch_views.PaymentRequestBatchView.as_view(),
        name="payment-request-batch",
    ),
    path(
        "payment-requests/<str:public_id>",
        views.PaymentRequestDetailView.as_view(),
        name="payment-request-detail",
    ),
    path(
        "payment-requests/<str:public_id>/cancel",
        views.PaymentRequestCancelView.as_view(),
        name="payment-request-cancel",
    ),
    path(
        "payment-requests/<str:public_id>/participants",
        views.ParticipantCollectionView.as_view(),
        name="participant-list",
    ),
    path(
        "payment-requests/<str:public_id>/participants/<str:participant_id>",
        views.ParticipantDetailView.as_view(),
        name="participant-detail",
    ),
    path(
        "payment-requests/<str:public_id>/notifications/pause",
        views.NotificationsPauseView.as_view(paused=True),
        name="payment-request-notifications-pause",
    ),
    path(
        "payment-requests/<str:public_id>/notifications/resume",
        views.NotificationsPauseView.as_view(paused=False),
        name="payment-request-notifications-resume",
    ),
    path(
        "payment-requests/<str:public_id>/refund",
        views.PaymentRequestRefundView.as_view(),
        name="payment-request-refund",
    ),
    path(
        "payment-requests/<str:public_id>/participants/<str:participant_id>/qr",
        views.ParticipantQrCodeView.as_view(),
        name="participant-qr",
    ),
    path("events", events_views.EventListView.as_view(), name="event-list"),
    path("events/<str:public_id>", events_views.EventDetailView.as_view(), name="event-detail"),
]
