from django.urls import path

from . import payer_views

app_name = "progress"

urlpatterns = [path("<str:token>/", payer_views.public_progress, name="page")]
