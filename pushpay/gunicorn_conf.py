"""gunicorn's configuration for ``manage.py serve``, from the environment only.

``WEB_CONCURRENCY`` worker processes (2: one per core of a small machine) each running
``GUNICORN_THREADS`` threads (4; Django's database connections are per thread, so a machine
holds up to workers x threads connections, see docs/operations.md "Sizing"). Every value is
checked here, and ``manage.py serve`` imports this module before starting gunicorn, so a bad
value stops the start with a clear message instead of a worker crash loop.
"""

import os

from django.core.exceptions import ImproperlyConfigured


def _int(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}.")
    return value


_port = _int("PORT", 8000, 1, 65535)
bind = [os.environ.get("BIND", "").strip() or f"0.0.0.0:{_port}"]
workers = _int("WEB_CONCURRENCY", 2, 1, 64)
threads = _int("GUNICORN_THREADS", 4, 1, 64)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30, 5, 600)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30, 1, 600)
keepalive = _int("GUNICORN_KEEPALIVE", 5, 1, 300)
# Recycle workers after this many requests (0: never), with jitter so they do not all go
# at once; a cure for slow leaks, not a default.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0, 0, 10_000_000)
max_requests_jitter = max_requests // 10
wsgi_app = "pushpay.wsgi:application"
# One access line per request comes from Django (logger pushpay.access), with the request id
# and the route pattern; gunicorn's own would repeat it with the raw path (payer links carry
# their secret in the path).
accesslog = None
errorlog = "-"
# Behind a proxy, X-Forwarded-* are trusted by Django's settings (BEHIND_TLS_PROXY), not here.
forwarded_allow_ips = "127.0.0.1"
# No control socket in $HOME shared by every gunicorn of the user; the process manager (or
# a signal) drives the server. gunicorn before 25.1 ignores the name.
control_socket_disable = True

# The master's own lines (start, worker boots and timeouts) in the same shape as the app's.
_debug = os.environ.get("DEBUG", "").strip().lower() in ("1", "true", "yes", "y", "on", "ok")
if (os.environ.get("LOG_FORMAT", "").strip() or ("text" if _debug else "json")) == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "pushpay.logs.JsonFormatter"}},
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        # gunicorn merges this over its defaults, whose root and access loggers name handlers
        # of theirs; both are replaced (the access log is off, Django writes one line).
        "root": {"level": "INFO", "handlers": ["error_console"]},
        "loggers": {
            "gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def child_exit(server, worker) -> None:
    """A dead worker's live gauges leave the summed metrics (its counters stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
