from django.urls import path

from . import two_factor_views, views

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
urlpatterns += [
    path("account/security/", two_factor_views.SecurityView.as_view(), name="security"),
    path(
        "account/security/totp/start/",
        two_factor_views.TotpStartView.as_view(),
        name="totp_start",
    ),
    path(
        "account/security/totp/confirm/",
        two_factor_views.TotpConfirmView.as_view(),
        name="totp_confirm",
    ),
    path(
        "account/security/recovery-codes/",
        two_factor_views.RecoveryCodesView.as_view(),
        name="recovery_codes",
    ),
    path(
        "account/security/disable/",
        two_factor_views.TwoFactorDisableView.as_view(),
        name="two_factor_disable",
    ),
]
