"""Token buckets that keep the dispatcher under its providers' limits.

One bucket per channel (the provider account) and one per merchant and channel, so a single
merchant's campaign cannot take a provider's whole budget. A 429 from a provider pauses its
channel's bucket, so the rest of the batch holds back instead of hammering a provider that
asked us to slow down.

Where the buckets live is ``DISPATCH_RATE_LIMIT_STORE``: ``redis`` (the default when
``REDIS_URL`` is set) keeps them in Redis, so every dispatcher process on every machine
draws from one budget per provider account and a 429 seen by one pauses all; ``process``
keeps them in each process, and the limits must then be divided among the processes. If
Redis stops answering, each process falls back to its own buckets rather than stop sending
or send without any limit.
"""

import logging
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


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


# Both buckets are checked and taken in one atomic step on Redis's own clock, so processes on
# machines whose clocks differ still share one budget. Returns "0" when the tokens were taken,
# else the seconds to wait (a string: Lua numbers come back from Redis truncated to integers).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then wait = paused - now end
local tokens = {}
for i = 1, 2 do
  local rate = tonumber(ARGV[i])
  if rate > 0 then
    local capacity = math.max(rate, 1)
    local saved = redis.call('HMGET', KEYS[i], 'tokens', 'updated')
    local left = tonumber(saved[1]) or capacity
    local updated = tonumber(saved[2]) or now
    left = math.min(capacity, left + math.max(0, now - updated) * rate)
    tokens[i] = left
    if left < 1 - 1e-9 then wait = math.max(wait, (1 - left) / rate) end
  end
end
if wait > 0 then return tostring(wait) end
for i = 1, 2 do
  if tokens[i] then
    redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i] - 1), 'updated', tostring(now))
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  end
end
return '0'
"""

# Pauses the channel until now + ARGV[1] seconds (never shortening a longer pause) and empties
# its bucket, as ``TokenBucket.pause`` does in one process.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > paused then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'tokens', '0', 'updated', tostring(now))
end
return 'ok'
"""


class RedisRateLimiter:
    """The same buckets as ``RateLimiter``, kept in Redis and shared by every process that
    uses the same ``prefix``; falls back to ``fallback`` (this process's buckets) for as long
    as Redis does not answer."""

    def __init__(
        self,
        *,
        url: str,
        channel_rates: dict[str, float],
        merchant_rates: dict[str, float],
        prefix: str = "pushpay:ratelimit",
        sleep: Callable[[float], None] = time.sleep,
        fallback: RateLimiter | None = None,
    ):
        self.channel_rates = dict(channel_rates)
        self.merchant_rates = dict(merchant_rates)
        self.prefix = prefix
        self.sleep = sleep
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._acquire = self.client.register_script(_ACQUIRE)
        self._pause = self.client.register_script(_PAUSE)
        self.fallback = fallback or RateLimiter(
            channel_rates=channel_rates, merchant_rates=merchant_rates, sleep=sleep
        )
        self._warned = False

    def _keys(self, channel: str, merchant_id: int | None) -> list[str]:
        return [
            f"{self.prefix}:channel:{channel}",
            f"{self.prefix}:merchant:{merchant_id}:{channel}",
            f"{self.prefix}:paused:{channel}",
        ]

    def _unreachable(self, exc: Exception) -> None:
        if not self._warned:
            logger.warning("Rate limits fall back to this process: Redis said %s", exc)
            self._warned = True

    def acquire(self, channel: str, merchant_id: int | None, *, max_wait: float) -> float:
        """As ``RateLimiter.acquire``, against the shared buckets."""
        rates = (
            self.channel_rates.get(channel, 0.0),
            self.merchant_rates.get(channel, 0.0),
        )
        keys, ttl = self._keys(channel, merchant_id), 60
        while True:
            try:
                wait = float(self._acquire(keys=keys, args=[*rates, ttl]))
            except redis.RedisError as exc:
                self._unreachable(exc)
                return self.fallback.acquire(channel, merchant_id, max_wait=max_wait)
            self._warned = False
            if wait <= 0:
                return 0.0
            if wait > max_wait:
                return wait
            self.sleep(wait)

    def pause(self, channel: str, seconds: float) -> None:
        """As ``RateLimiter.pause``: every process sharing the buckets holds back."""
        keys = self._keys(channel, None)
        try:
            self._pause(keys=[keys[2], keys[0]], args=[max(0.0, float(seconds))])
        except redis.RedisError as exc:
            self._unreachable(exc)
        self.fallback.pause(channel, seconds)


_limiter: RateLimiter | RedisRateLimiter | None = None
_limiter_config: tuple | None = None


def rate_limiter() -> RateLimiter | RedisRateLimiter:
    """This process's limiter, rebuilt when the settings change (tests override them)."""
    global _limiter, _limiter_config
    store = getattr(settings, "DISPATCH_RATE_LIMIT_STORE", "process")
    url = getattr(settings, "REDIS_URL", "") if store == "redis" else ""
    config = (
        tuple(sorted(getattr(settings, "DISPATCH_RATE_LIMITS", {}).items())),
        tuple(sorted(getattr(settings, "DISPATCH_MERCHANT_RATE_LIMITS", {}).items())),
        url,
    )
    if _limiter is None or config != _limiter_config:
        channel_rates, merchant_rates = dict(config[0]), dict(config[1])
        if url:
            _limiter = RedisRateLimiter(
                url=url, channel_rates=channel_rates, merchant_rates=merchant_rates
            )
        else:
            _limiter = RateLimiter(channel_rates=channel_rates, merchant_rates=merchant_rates)
        _limiter_config = config
    return _limiter


def reset_rate_limiter() -> None:
    """Forget every bucket (a fresh process)."""
    global _limiter, _limiter_config
    _limiter = _limiter_config = None
