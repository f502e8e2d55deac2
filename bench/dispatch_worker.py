"""One dispatcher process for bench/dispatch_throughput.py's paced run: it sends rows as they
fall due (the every-minute schedule and the on-commit nudges do this in production), until no
row is left to send or ``--until`` (a Unix time) passes.

    python bench/dispatch_worker.py --worker-id bench-1 --until 1767000000

Not part of the product: the q cluster runs the dispatcher there.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--until", type=float, required=True, help="give up at this Unix time")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushpay.settings")
    import django

    django.setup()
    from notifications.dispatcher import dispatch_until_empty
    from notifications.models import Dispatch

    handled = 0
    while time.time() < args.until:
        done = dispatch_until_empty(batch_size=args.batch_size, worker_id=args.worker_id)
        handled += done
        if done == 0:
            if not Dispatch.objects.filter(status__in=Dispatch.PENDING).exists():
                break
            time.sleep(0.02)
    print(f"{args.worker_id} handled {handled}")


if __name__ == "__main__":
    main()
