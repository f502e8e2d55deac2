"""Rate limits shared through Redis: every dispatcher process draws from one budget."""

import os
import subprocess
import sys
import uuid

import pytest
import redis

from notifications.ratelimit import (
    RateLimiter,
    RedisRateLimiter,
    rate_limiter,
    reset_rate_limiter,
)

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not _redis_answers(), reason="no Redis server answers")


@pytest.fixture
def prefix():
    """Keys of this test only, removed after it, so tests never share a bucket."""
    name = f"pushpay-test:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


def limiter(prefix: str, **rates) -> RedisRateLimiter:
    return RedisRateLimiter(
        url=REDIS_URL,
        channel_rates=rates.get("channel", {"email": 10.0}),
        merchant_rates=rates.get("merchant", {}),
        prefix=prefix,
        sleep=lambda s: None,
    )


def taken(limiter_, count: int, merchant_id: int = 1, channel: str = "email") -> int:
    return sum(limiter_.acquire(channel, merchant_id, max_wait=0.0) == 0.0 for _ in range(count))


@needs_redis
def test_two_processes_share_one_budget(prefix):
    first, second = limiter(prefix), limiter(prefix)
    # Each process alone would allow its own burst of 10; together they still get 10.
    assert taken(first, 8) + taken(second, 8) == 10
    wait = second.acquire("email", 1, max_wait=0.0)
    assert 0 < wait <= 0.11  # a token comes back every 1/10 s


@needs_redis
def test_in_process_buckets_would_each_allow_the_whole_budget():
    first = RateLimiter(channel_rates={"email": 10.0}, merchant_rates={})
    second = RateLimiter(channel_rates={"email": 10.0}, merchant_rates={})
    assert taken(first, 8) + taken(second, 8) == 16  # why the shared store exists


@needs_redis
def test_the_merchant_bucket_is_shared_and_leaves_others_alone(prefix):
    rates = {"channel": {"email": 100.0}, "merchant": {"email": 3.0}}
    first, second = limiter(prefix, **rates), limiter(prefix, **rates)
    assert taken(first, 2, merchant_id=7) + taken(second, 2, merchant_id=7) == 3
    assert taken(second, 3, merchant_id=8) == 3
    assert taken(first, 1, merchant_id=7, channel="sms") == 1  # no sms limit configured


@needs_redis
def test_a_429_seen_by_one_process_pauses_every_process(prefix):
    first, second = limiter(prefix), limiter(prefix)
    first.pause("email", 30)
    wait = second.acquire("email", 1, max_wait=0.0)
    assert 29 < wait <= 30
    assert second.acquire("sms", 1, max_wait=0.0) == 0.0  # another channel is not paused
    first.pause("email", 5)  # a shorter pause never shortens a longer one
    assert second.acquire("email", 1, max_wait=0.0) > 25


@needs_redis
def test_a_zero_rate_means_no_limit(prefix):
    shared = limiter(prefix, channel={"email": 0.0})
    assert taken(shared, 500) == 500
    assert not redis.Redis.from_url(REDIS_URL).exists(f"{prefix}:channel:email")


@needs_redis
def test_a_short_wait_is_slept_then_taken(prefix):
    slept = []
    shared = limiter(prefix, channel={"email": 5.0})
    shared.sleep = slept.append
    assert taken(shared, 5) == 5
    assert shared.acquire("email", 1, max_wait=1.0) == 0.0
    assert slept and 0 < slept[0] <= 0.21


@needs_redis
def test_separate_os_processes_share_the_budget(prefix):
    # Each process starts Django (seconds apart on a loaded machine), says it is ready, and
    # takes its tokens only when all three are: the budget is then what they share, not
    # what refilled while the slowest one started.
    script = (
        "import sys\n"
        "from notifications.ratelimit import RedisRateLimiter\n"
        "l = RedisRateLimiter(url=sys.argv[1], channel_rates={'email': 20.0},"
        " merchant_rates={}, prefix=sys.argv[2], sleep=lambda s: None)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "print(sum(l.acquire('email', 1, max_wait=0.0) == 0.0 for _ in range(15)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pushpay.test_settings"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "import django; django.setup()\n" + script, REDIS_URL, prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    counts = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    # 20 at once plus the little that refills while the three take theirs: never the 45.
    assert 20 <= sum(counts) < 26, counts


def test_redis_down_falls_back_to_this_process(prefix, caplog):
    shared = RedisRateLimiter(
        url="redis://127.0.0.1:1/0",
        channel_rates={"email": 4.0},
        merchant_rates={},
        prefix=prefix,
        sleep=lambda s: None,
    )
    assert taken(shared, 6) == 4  # still limited, by this process's own bucket
    shared.pause("email", 10)  # no exception either
    assert shared.acquire("email", 1, max_wait=0.0) > 9
    assert sum("fall back" in r.getMessage() for r in caplog.records) == 1


def test_the_store_setting_picks_the_limiter(settings):
    reset_rate_limiter()
    try:
        settings.DISPATCH_RATE_LIMIT_STORE = "process"
        assert isinstance(rate_limiter(), RateLimiter)
        settings.DISPATCH_RATE_LIMIT_STORE = "redis"
        settings.REDIS_URL = REDIS_URL
        assert isinstance(rate_limiter(), RedisRateLimiter)
        assert rate_limiter() is rate_limiter()
    finally:
        reset_rate_limiter()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DISPATCH_RATE_LIMIT_STORE": "memcache"}, 'must be "redis" or "process"'),
        ({"DISPATCH_RATE_LIMIT_STORE": "redis", "REDIS_URL": ""}, "needs REDIS_URL"),
    ],
)
def test_bad_store_settings_refuse_to_start(env, message):
    result = subprocess.run(
        [sys.executable, "-c", "import pushpay.settings"],
        env={**os.environ, "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and message in result.stderr
