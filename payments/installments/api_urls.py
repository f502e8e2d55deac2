from django.urls import path

from . import api

urlpatterns = [
    path(
        "installment-plans/preview",
        api.InstallmentPreviewView.as_view(),
        name="installment-plan-preview",
    ),
]
