from django.urls import path

from . import views

app_name = "wallets"

urlpatterns = [
    path("", views.WalletListView.as_view(), name="wallet_list"),
    path("new/", views.WalletCreateView.as_view(), name="wallet_create"),
    path("cashback/", views.CashbackRuleView.as_view(), name="cashback_rule"),
    path("<str:public_id>/", views.WalletDetailView.as_view(), name="wallet_detail"),
    path("<str:public_id>/credit/", views.WalletCreditView.as_view(), name="wallet_credit"),
    path("<str:public_id>/adjust/", views.WalletAdjustView.as_view(), name="wallet_adjust"),
    path("<str:public_id>/export.csv", views.WalletExportView.as_view(), name="wallet_export"),
]
