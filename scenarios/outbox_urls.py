"""The local outbox page, apart from the scenarios' own URLs because it lives at /app/outbox/."""

from django.urls import path

from . import views

app_name = "outbox"

urlpatterns = [
    path("", views.OutboxListView.as_view(), name="outbox_list"),
]
