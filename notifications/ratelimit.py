"""Per-process token buckets that keep the dispatcher under its providers' limits.

One bucket per channel (the provider account) and one per merchant and channel, so a single
merchant's campaign cannot take a provider's whole budget. The buckets live in the process:
with several dispatcher processes on one provider account, the settings are divided among
them (docs/operations.md). A 429 from a provider pauses its channel's bucket, so the rest of
the batch holds back instead of hammering a provider that asked us to slow down.
"""

import threading
import time
from collections.abc import Callable

from django.conf import settings


class TokenBucket:
    """``rate`` tokens a second, up to ``rate`` saved (a one-second burst); rate 0: no limit."""

    def __init__(self, rate: float, clock: Callable[[], float]):
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.paused_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        """Seconds until a token is available (0 when one is there now)."""
        now = self.clock()
        paused = max(0.0, self.paused_until - now)
        if not self.rate:
            return paused
        self._refill(now)
        return max(paused, 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate)

    def take(self) -> None:
        if self.rate:
            self.tokens -= 1

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self.tokens = 0.0 if self.rate else self.tokens


class RateLimiter:
    """The buckets of one process; ``acquire`` blocks briefly or says the send must wait."""

    def __init__(
        self,
        *,
        channel_rates: dict[str, float],
        merchant_rates: dict[str, float],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.channel_rates = dict(channel_rates)
        self.merchant_rates = dict(merchant_rates)
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[tuple, TokenBucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: tuple, rate: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate, self.clock)
        return bucket

    def _pair(self, channel: str, merchant_id: int | None) -> tuple[TokenBucket, TokenBucket]:
        return (
            self._bucket(("channel", channel), self.channel_rates.get(channel, 0.0)),
            self._bucket(("merchant", merchant_id, channel), self.merchant_rates.get(channel, 0.0)),
        )

    def acquire(self, channel: str, merchant_id: int | None, *, max_wait: float) -> float:
        """Take a token of both buckets, sleeping up to ``max_wait``; 0 when taken, otherwise
        the seconds still to wait (the caller puts the message back for then)."""
        while True:
            with self._lock:
                buckets = self._pair(channel, merchant_id)
                wait = max(bucket.wait() for bucket in buckets)
                if wait <= 0:
                    for bucket in buckets:
                        bucket.take()
                    return 0.0
            if wait > max_wait:
                return wait
            self.sleep(wait)

    def pause(self, channel: str, seconds: float) -> None:
        """The provider of ``channel`` answered 429: nothing goes to it for ``seconds``."""
        with self._lock:
            self._bucket(("channel", channel), self.channel_rates.get(channel, 0.0)).pause(seconds)


_limiter: RateLimiter | None = None
_limiter_config: tuple | None = None


def rate_limiter() -> RateLimiter:
    """This process's limiter, rebuilt when the settings change (tests override them)."""
    global _limiter, _limiter_config
    config = (
        tuple(sorted(getattr(settings, "DISPATCH_RATE_LIMITS", {}).items())),
        tuple(sorted(getattr(settings, "DISPATCH_MERCHANT_RATE_LIMITS", {}).items())),
    )
    if _limiter is None or config != _limiter_config:
        _limiter = RateLimiter(channel_rates=dict(config[0]), merchant_rates=dict(config[1]))
        _limiter_config = config
    return _limiter


def reset_rate_limiter() -> None:
    """Forget every bucket (a fresh process)."""
    global _limiter, _limiter_config
    _limiter = _limiter_config = None
