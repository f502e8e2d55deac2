"""Production settings with the benchmark's baseline routes added (bench/http_bench_urls.py)."""

from pushpay.settings import *  # noqa: F403

ROOT_URLCONF = "http_bench_urls"
