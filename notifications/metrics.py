"""The outbox's series for Prometheus, read at scrape time (registered in ``apps.ready``).

Each query stays on an index: pending rows through the partial indexes on planned and
sending rows, delivery attempts by primary-key range (``pushpay.metrics.RowTally``).
"""

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pushpay.metrics import RowTally

from .kinds import outbox_kinds
from .models import DeliveryAttempt, Dispatch

deliveries = RowTally(
    lambda: DeliveryAttempt.objects.all(),
    ("dispatch__channel", "outcome", "dispatch__livemode"),
)


class OutboxCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        depth = GaugeMetricFamily(
            "pushpay_outbox_pending",
            "Outbox rows not yet final, by status (planned, sending) and kind.",
            labels=["status", "kind"],
        )
        kinds = {kind.name for kind in outbox_kinds()}
        for status in Dispatch.PENDING:
            counts = dict(
                Dispatch.objects.filter(status=status)
                .values_list("kind")
                .annotate(rows=Count("id"))
                .order_by()
            )
            for kind in sorted(kinds | set(counts)):
                depth.add_metric([status, kind], counts.get(kind, 0))
        yield depth

        due = Dispatch.objects.filter(status=Dispatch.Status.PLANNED, next_attempt_at__lte=now)
        oldest = due.aggregate(oldest=Min("next_attempt_at"))["oldest"]
        yield GaugeMetricFamily(
            "pushpay_outbox_due",
            "Planned outbox rows whose time has come and that no worker has claimed yet.",
            value=due.count(),
        )
        yield GaugeMetricFamily(
            "pushpay_dispatch_lag_seconds",
            "Age of the oldest due-but-unsent outbox row (0 when none is waiting).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "pushpay_outbox_expired_leases",
            "Rows still marked sending after their lease ended: a worker died mid-send.",
            value=Dispatch.objects.filter(
                status=Dispatch.Status.SENDING, lease_until__lt=now
            ).count(),
        )

        attempts = CounterMetricFamily(
            "pushpay_delivery_attempts",
            "Send attempts by channel, outcome (sent, retry, failed) and mode.",
            labels=["channel", "outcome", "mode"],
        )
        for (channel, outcome, livemode), rows in sorted(deliveries.totals().items()):
            attempts.add_metric([channel, outcome, "live" if livemode else "test"], rows)
        yield attempts
