from django.urls import path

from . import views

app_name = "installments"

urlpatterns = [
    path("due/", views.InstallmentsDueView.as_view(), name="due_list"),
    path("defaulted/", views.PlansDefaultedView.as_view(), name="defaulted_list"),
    path("<str:public_id>/", views.PlanDetailView.as_view(), name="plan_detail"),
    path("<str:public_id>/cancel/", views.PlanCancelView.as_view(), name="plan_cancel"),
    path("<str:public_id>/reschedule/", views.PlanRescheduleView.as_view(), name="plan_reschedule"),
    path("<str:public_id>/resplit/", views.PlanResplitView.as_view(), name="plan_resplit"),
]
