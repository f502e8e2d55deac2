from django.urls import path

from . import payer_plan_views, payer_views

app_name = "payer"

urlpatterns = [
    path("<str:token>/", payer_views.PayerPageView.as_view(), name="pay"),
    path("<str:token>/balance/", payer_views.balance, name="balance"),
    path(
        "<str:token>/installments/",
        payer_views.InstallmentPlanPayView.as_view(),
        name="installments",
    ),
    path(
        "<str:token>/return/<str:checkout_id>/", payer_views.checkout_return, name="checkout_return"
    ),
    path("<str:token>/cancel/<str:checkout_id>/", payer_views.checkout_cancel, name="cancel"),
    path("<str:token>/receipt/<str:checkout_id>/", payer_views.receipt, name="receipt"),
    path("<str:token>/held/<str:checkout_id>/", payer_views.held, name="held"),
    path(
        "<str:token>/plan/<str:plan_id>/",
        payer_plan_views.PlanPageView.as_view(),
        name="plan",
    ),
    path(
        "<str:token>/plan/<str:plan_id>/return/<str:checkout_id>/",
        payer_plan_views.plan_checkout_return,
        name="plan_return",
    ),
]
