from django.core.management.base import BaseCommand

from notifications.dispatcher import dispatch_until_empty, new_worker_id


class Command(BaseCommand):
    help = "Send the notifications due now (what the every-minute schedule does), then stop."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--worker-id", default="")
        parser.add_argument("--max-seconds", type=float, default=None)

    def handle(self, *args, **options) -> None:
        worker_id = options["worker_id"] or new_worker_id()
        handled = dispatch_until_empty(
            batch_size=options["batch_size"],
            worker_id=worker_id,
            max_seconds=options["max_seconds"],
        )
        self.stdout.write(f"{worker_id} handled {handled}")
