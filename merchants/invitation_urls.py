from django.urls import path

from . import views

app_name = "invitations"

urlpatterns = [path("<str:token>/", views.JoinView.as_view(), name="join")]
