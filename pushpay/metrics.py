"""Prometheus metrics at ``/metrics``: request metrics and the product's own series.

Two sources, concatenated in one exposition:

- request counts and latencies by view and status, from django-prometheus's middleware.
  Under gunicorn each worker counts its own; with ``PROMETHEUS_MULTIPROC_DIR`` set (``manage.py
  serve`` sets it) they are summed across the workers of the machine.
- the product's series, read from the database at scrape time by collectors the apps
  register here (``register_collector``): the outbox and the delivery log live in the
  database, written by q clusters on other machines, so any web process can tell the truth
  about them and every one tells the same.

Production needs ``METRICS_TOKEN`` (``Authorization: Bearer <token>``); without one the route
is a 404 unless DEBUG is on.
"""

import hmac
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from pushpay.api.errors import error_body

logger = logging.getLogger(__name__)
logger = logging.getLogger(__name__)
_database_registry = CollectorRegistry(auto_describe=False)
_registered: set[str] = set()


def register_collector(name: str, collector: Collector) -> None:
    """Add an app's scrape-time collector once (``ready()`` may run more than once in tests)."""
    if name in _registered:
        return
    _database_registry.register(collector)
    _registered.add(name)


def database_registry() -> CollectorRegistry:
    return _database_registry


class RowTally:
    """Counts the rows of an append-only table by some columns, reading only the rows added
    since the last scrape: a true Prometheus counter at the cost of a primary-key range scan.

    The first scrape of a process counts the whole table once. A row is counted once it is
    ``METRICS_SETTLE_SECONDS`` old: ids are handed out at insert but become visible at commit,
    so a row with a smaller id can still appear after a larger one; waiting that long (longer
    than any transaction that writes these rows) means none is skipped. Every web process
    reads the same table, so whichever one answers a scrape gives the same totals.
    """

    _all: list["RowTally"] = []

    def __init__(self, queryset: Callable[[], QuerySet], labels: tuple[str, ...]):
        self._queryset = queryset
        self._labels = labels
        self._lock = threading.Lock()
        self._upto = 0
        self._totals: Counter[tuple] = Counter()
        RowTally._all.append(self)

    def reset(self) -> None:
        with self._lock:
            self._upto = 0
            self._totals = Counter()

    @classmethod
    def reset_all(cls) -> None:
        """Forget every tally (tests, whose rows are rolled back under the tallies' feet)."""
        for tally in cls._all:
            tally.reset()

    def totals(self) -> dict[tuple, int]:
        with self._lock:
            rows = self._queryset()
            newest = rows.order_by("-pk").values_list("pk", flat=True).first() or 0
            if newest < self._upto:  # the table was restored from an older backup
                self._upto, self._totals = 0, Counter()
            horizon = timezone.now() - timedelta(seconds=settings.METRICS_SETTLE_SECONDS)
            upto = rows.filter(pk__gt=self._upto, created_at__lt=horizon).aggregate(upto=Max("pk"))[
                "upto"
            ]
            if upto is not None:
                counted = (
                    rows.filter(pk__gt=self._upto, pk__lte=upto)
                    .values(*self._labels)
                    .annotate(rows=Count("pk"))
                    .order_by()
                )
                for row in counted:
                    self._totals[tuple(row[label] for label in self._labels)] += row["rows"]
                self._upto = upto
            return dict(self._totals)


def _request_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _refusal(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse(error_body(status, code, message), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """The exposition, for a scraper holding ``METRICS_TOKEN``."""
    token = settings.METRICS_TOKEN
    if not token:
        if not settings.DEBUG:
            return _refusal(404, "not_found", "Nothing here.")
    else:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return _refusal(401, "not_authenticated", "Send 'Authorization: Bearer <token>'.")
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return _refusal(403, "invalid_token", "The metrics token is not valid.")
    return HttpResponse(
        generate_latest(_request_registry()) + _database_exposition(),
        content_type=CONTENT_TYPE_LATEST,
    )


def _database_exposition() -> bytes:
    """The apps' series, or only ``pushpay_metrics_database_up 0`` when the database is
    down: the request metrics must still reach the scraper (and the outage be seen)."""
    up = CollectorRegistry(auto_describe=False)
    try:
        body = generate_latest(_database_registry)
    except DatabaseError as exc:
        logger.warning("metrics from the database failed: %s", type(exc).__name__)
        body, value = b"", 0
    else:
        value = 1
    up.register(_Constant("pushpay_metrics_database_up", "1 when the database answered.", value))
    return generate_latest(up) + body


class _Constant(Collector):
    def __init__(self, name: str, documentation: str, value: float):
        self._family = GaugeMetricFamily(name, documentation, value=value)

    def collect(self):
        yield self._family
