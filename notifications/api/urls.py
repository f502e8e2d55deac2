from django.urls import path

from . import provider_views, views, webhook_views

urlpatterns = [
    path("templates", views.TemplateListCreateView.as_view(), name="template-list"),
    path(
        "templates/<str:public_id>",
        views.TemplateDetailView.as_view(),
        name="template-detail",
    ),
    path(
        "templates/<str:public_id>/preview",
        views.TemplatePreviewView.as_view(),
        name="template-preview",
    ),
    path(
        "webhook-endpoints",
        webhook_views.WebhookEndpointListCreateView.as_view(),
        name="webhook-endpoint-list",
    ),
    path(
        "webhook-endpoints/<str:public_id>",
        webhook_views.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<str:public_id>/rotate-secret",
        webhook_views.WebhookEndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<str:public_id>/replay",
        webhook_views.WebhookEndpointReplayView.as_view(),
        name="webhook-endpoint-replay",
    ),
    path(
        "webhook-deliveries",
        webhook_views.WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhook-deliveries/<str:public_id>",
        webhook_views.WebhookDeliveryDetailView.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhook-deliveries/<str:public_id>/replay",
        webhook_views.WebhookDeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
    path("providers/twilio/status", provider_views.twilio_status, name="twilio-status"),
]
