from django.urls import path

from . import webhook_backoffice as views

app_name = "webhooks"

urlpatterns = [
    path("", views.EndpointListView.as_view(), name="endpoint_list"),
    path("new/", views.EndpointCreateView.as_view(), name="endpoint_create"),
    path("<str:public_id>/", views.EndpointDetailView.as_view(), name="endpoint_detail"),
    path("<str:public_id>/edit/", views.EndpointEditView.as_view(), name="endpoint_edit"),
    path(
        "<str:public_id>/rotate-secret/",
        views.EndpointRotateView.as_view(),
        name="endpoint_rotate_secret",
    ),
    path("<str:public_id>/toggle/", views.EndpointToggleView.as_view(), name="endpoint_toggle"),
    path("<str:public_id>/delete/", views.EndpointDeleteView.as_view(), name="endpoint_delete"),
    path("<str:public_id>/replay/", views.EndpointReplayView.as_view(), name="endpoint_replay"),
    path(
        "<str:public_id>/deliveries/<str:delivery_id>/replay/",
        views.DeliveryReplayView.as_view(),
        name="delivery_replay",
    ),
]
