"""Payment outcomes for Prometheus: every provider call of every leg, by method, operation
and result, read at scrape time from the legs' ledger (registered in ``apps.ready``)."""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from pushpay.metrics import RowTally

from .models import LegOperation

operations = RowTally(
    lambda: LegOperation.objects.all(),
    ("leg__method", "operation", "result", "livemode"),
)


class PaymentCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "pushpay_payment_operations",
            "Provider calls of payment legs by method, operation (authorise, capture, void, "
            "refund, retrieve), result (succeeded, failed, no_answer, rejected) and mode.",
            labels=["method", "operation", "result", "mode"],
        )
        for (method, operation, result, livemode), rows in sorted(operations.totals().items()):
            family.add_metric([method, operation, result, "live" if livemode else "test"], rows)
        yield family
