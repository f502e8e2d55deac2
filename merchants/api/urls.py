from django.urls import path

from . import views

urlpatterns = [
    path("api-keys", views.ApiKeyListCreateView.as_view(), name="api-key-list"),
    path("api-keys/<str:public_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path(
        "api-keys/<str:public_id>/revoke",
        views.ApiKeyRevokeView.as_view(),
        name="api-key-revoke",
    ),
]
