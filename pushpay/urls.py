from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from merchants.two_factor_views import TwoFactorVerifyView
from notifications.esp_callbacks import esp_tracking
from payments.webhooks import paypal_webhook, stripe_webhook
from pushpay.api.errors import api_not_found
from pushpay.api.schema_view import EnglishSchemaView
from pushpay.favicon import favicon
from pushpay.health import healthz, livez, readyz
from pushpay.metrics import metrics

api_v1 = [
    path("", include("merchants.api.urls")),
    path("", include("requests_app.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("scenarios.api.urls")),
    path("", include("smartforms.api.urls")),
    path("", include("payments.installments.api_urls")),
    path("", include("payments.api.urls")),
    path("schema/", EnglishSchemaView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("<path:anything>", api_not_found),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="backoffice:request_list"), name="home"),
    path("api/v1/", include(api_v1)),
    # CentralPay's Push & Pay API, over our services (docs/migrating-from-centralpay.md).
    path("v2/rest/", include("requests_app.centralpay.urls")),
    path("app/forms/", include("smartforms.urls")),
    path("app/templates/", include("notifications.urls")),
    path("app/webhooks/", include("notifications.webhook_urls")),
    path("app/scenarios/", include("scenarios.urls")),
    path("app/outbox/", include("scenarios.outbox_urls")),
    path("app/wallets/", include("payments.wallet.urls")),
    path("app/installments/", include("payments.installments.urls")),
    path("app/providers/", include("payments.provider_urls")),
    path("app/audit/", include("audit.urls")),
    path("app/", include("merchants.urls")),
    path("app/", include("payments.urls")),
    path("app/", include("requests_app.urls")),
    path("pay/", include("requests_app.payer_urls")),
    path("progress/", include("requests_app.progress_urls")),
    path("sandbox/", include("payments.sandbox_urls")),
    path("accounts/invitation/", include("merchants.invitation_urls")),
    path("accounts/two-factor/", TwoFactorVerifyView.as_view(), name="two_factor_verify"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # Only the configured ESP's tracking route answers, and only once a secret is set.
    path("anymail/<slug:esp>/tracking/", esp_tracking, name="esp_tracking"),
    path("webhooks/stripe/<str:webhook_id>/", stripe_webhook, name="stripe_webhook"),
    path("webhooks/paypal/<str:webhook_id>/", paypal_webhook, name="paypal_webhook"),
    # Answered by pushpay.health.ProbeMiddleware before the host check; routed too, so
    # they can be reversed and other methods get a 405.
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
]

# Uploaded logos; in production the reverse proxy serves MEDIA_ROOT (see docs/operations.md).
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
