"""The schema endpoint, apart from ``pushpay.api.schema``: that module is the schema class
DRF's settings name, and the view imports DRF's views, which read those settings."""

from django.utils import translation
from drf_spectacular.views import SpectacularAPIView


class EnglishSchemaView(SpectacularAPIView):
    """The schema in English whatever the caller's ``Accept-Language`` (or ``?lang=``): the
    descriptions of enums carry model choice labels, which the back office translates, and
    the API's contract must read the same for every integrator."""

    def _get_schema_response(self, request):
        with translation.override("en"):
            return super()._get_schema_response(request)
