from django.urls import path

from . import api

urlpatterns = [
    path("installment-plans", api.PlanListView.as_view(), name="installment-plan-list"),
    path(
        "installment-plans/preview",
        api.InstallmentPreviewView.as_view(),
        name="installment-plan-preview",
    ),
    path(
        "installment-plans/<str:public_id>",
        api.PlanDetailView.as_view(),
        name="installment-plan-detail",
    ),
    path(
        "installment-plans/<str:public_id>/cancel",
        api.PlanCancelView.as_view(),
        name="installment-plan-cancel",
    ),
    path(
        "installment-plans/<str:public_id>/reschedule",
        api.PlanRescheduleView.as_view(),
        name="installment-plan-reschedule",
    ),
    path(
        "installment-plans/<str:public_id>/resplit",
        api.PlanResplitView.as_view(),
        name="installment-plan-resplit",
    ),
]
