from django.urls import path

from . import provider_views, views

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
    path("providers/twilio/status", provider_views.twilio_status, name="twilio-status"),
]
