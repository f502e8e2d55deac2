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
        limit, period = parse_rate(settings.PUBLIC_RATE_LIMIT)
        now = int(time.time())
        window = now // period
        key = f"public-rate:{client_ip(request) or 'unknown'}:{period}:{window}"
        cache.add(key, 0, timeout=period + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr: count this one as the first
            cache.set(key, 1, timeout=period + 5)
            count = 1
        if count <= limit:
            return None
        retry_after = (window + 1) * period - now
        response = HttpResponse(
            "Too many requests from your address. Please wait a moment and try again.",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(max(retry_after, 1))
        return response
