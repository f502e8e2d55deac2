"""The page a locked-out login gets (django-axes calls this instead of its bare text)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    response: HttpResponse = render(
        request,
        "registration/lockout.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": settings.AXES_COOLOFF_MINUTES,
        },
        status=429,
    )
    response["Retry-After"] = str(settings.AXES_COOLOFF_MINUTES * 60)
    return response
