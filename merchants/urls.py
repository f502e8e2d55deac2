from django.urls import path

from . import views

app_name = "merchants"

urlpatterns = [
    path("api-keys/", views.ApiKeyListView.as_view(), name="api_key_list"),
    path("api-keys/new/", views.ApiKeyCreateView.as_view(), name="api_key_create"),
    path(
        "api-keys/<str:public_id>/revoke/",
        views.ApiKeyRevokeView.as_view(),
        name="api_key_revoke",
    ),
    path("settings/", views.MerchantSettingsView.as_view(), name="settings"),
]
