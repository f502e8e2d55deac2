from django.urls import path

from . import provider_views

app_name = "providers"

urlpatterns = [
    path("stripe/", provider_views.StripeCredentialsView.as_view(), name="stripe"),
    path("paypal/", provider_views.PayPalCredentialsView.as_view(), name="paypal"),
]
