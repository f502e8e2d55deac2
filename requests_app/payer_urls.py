from django.urls import path

from . import views

app_name = "payer"

urlpatterns = [
    path("<str:token>/", views.payer_page, name="pay"),
]
