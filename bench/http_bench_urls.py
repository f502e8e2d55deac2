"""The product's routes plus the two baselines ``bench/http_load.py`` measures it against.

Both baselines run behind the same middleware as the product (security headers, sessions,
locale, request ids, access log), so the ratios measure what the product adds on top of a
Django/DRF process, not the framework itself. Loaded only by the benchmark's settings.
"""

import json

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.urls import urlpatterns as product_urlpatterns


class BareInsert(APIView):
    """A bare DRF endpoint: parse the JSON body, insert one row, answer 201."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_row (body) VALUES (%s) RETURNING id", [json.dumps(request.data)]
            )
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id}, status=201)


def bare_view(request):
    """A bare Django view: a small HTML page, no query."""
    return HttpResponse("<!doctype html><html lang=en><title>Bare</title><p>Hello</p></html>")


urlpatterns = [
    path("bench/bare-insert", BareInsert.as_view()),
    path("bench/bare-view", bare_view),
    *product_urlpatterns,
]
