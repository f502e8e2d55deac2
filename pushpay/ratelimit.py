"""Per-address rate limit on the public, unauthenticated pages: the sandbox tokeniser and the
payer-link lookups (/pay/…, /progress/…). A fixed window counted in Django's cache (Redis
when scaled out, so every web process shares the count); over the limit is a 429 with
Retry-After. Links carry 128 bits of randomness, so this is about load and card-testing on
the tokeniser, not about guessing links."""

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from pushpay.client_ip import client_ip
from pushpay.rates import parse_rate

LIMITED_PREFIXES = ("/sandbox/tokens", "/pay/", "/progress/")


class PublicRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(LIMITED_PREFIXES):
            refused = self._refuse_if_over(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _refuse_if_over(self, request: HttpRequest) -> HttpResponse | None:
        retry_after = rate_exceeded(
            f"public-rate:{client_ip(request) or 'unknown'}", settings.PUBLIC_RATE_LIMIT
        )
        if retry_after is None:
            return None
        response = HttpResponse(
            "Too many requests from your address. Please wait a moment and try again.",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(retry_after)
        return response


def rate_exceeded(bucket: str, rate: str) -> int | None:
    """Count one hit in ``bucket`` against ``rate`` ("10/min"): None while under it, else
    the seconds until the window ends. Views with a tighter budget than the public pages
    (a balance lookup can probe account numbers) count in their own bucket."""
    limit, period = parse_rate(rate)
    now = int(time.time())
    window = now // period
    key = f"{bucket}:{period}:{window}"
    cache.add(key, 0, timeout=period + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr: count this one as the first
        cache.set(key, 1, timeout=period + 5)
        count = 1
    if count <= limit:
        return None
    return max((window + 1) * period - now, 1)
