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
urlpatterns += [
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/invite/", views.InvitationCreateView.as_view(), name="invitation_create"),
    path(
        "team/invitations/<str:invitation_id>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path("team/members/<str:member_id>/role/", views.MemberRoleView.as_view(), name="member_role"),
    path(
        "team/members/<str:member_id>/remove/",
        views.MemberRemoveView.as_view(),
        name="member_remove",
    ),
]
