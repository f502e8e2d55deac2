"""Probes for load balancers and orchestrators, and the middleware that answers them early.

- ``/healthz``: 200 when the database answers (unchanged, for existing load balancers).
- ``/livez``: 200 while the process can answer at all; touches nothing, so a database
  outage never gets every web process restarted.
- ``/readyz``: 200 only when this process can do real work: the database answers, the
  broker answers (when Redis is configured) and no migration is left unapplied; otherwise
  503 with the failed checks named, so a deploy whose migrations did not run takes no traffic.

Probes come from the orchestrator by address and over plain HTTP inside the network, so
``ProbeMiddleware`` answers them before the host check and the HTTPS redirect; they show
nothing but these check names.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Once every migration is applied in this process it stays so: new migrations come with new
# code, hence a new process. Loading the migration graph costs tens of milliseconds, which a
# probe every few seconds should not pay.
_migrations_applied = False


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: answers 200 only when the database answers."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def livez(request: HttpRequest) -> JsonResponse:
    """The process is up and serving; nothing else is asked."""
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    """Redis answers PING within two seconds (only when it is the broker)."""
    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2, retry_on_timeout=False
    )
    try:
        client.ping()
    finally:
        client.close()


class MigrationsPending(Exception):
    pass


def check_migrations() -> None:
    global _migrations_applied
    if _migrations_applied:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        raise MigrationsPending(f"{len(plan)} unapplied, starting with {names}")
    _migrations_applied = True


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "migrations": check_migrations,
}


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Every check in turn; 503 naming the failed ones. Migrations are not checked while the
    database is down (they would only fail with the same error)."""
    results: dict[str, str] = {}
    failed: list[str] = []
    for name, check in CHECKS.items():
        if name == "migrations" and "database" in failed:
            results[name] = "skipped"
            continue
        try:
            check()
        except MigrationsPending as exc:
            results[name] = str(exc)
            failed.append(name)
        except Exception as exc:
            # The error class only: a message may carry a host name or a password.
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = f"failed ({type(exc).__name__})"
            failed.append(name)
        else:
            results[name] = "ok"
    if "database" in failed:
        connections[DEFAULT_DB_ALIAS].close_if_unusable_or_obsolete()
    status = 503 if failed else 200
    body = {"status": "unavailable" if failed else "ok", "checks": results, "failed": failed}
    response = JsonResponse(body, status=status)
    # Logged above as a warning; Django would log every unready probe as an ERROR.
    response._has_been_logged = True
    return response


class ProbeMiddleware:
    """Answers the probes and the metrics scrape before the host check and HTTPS redirect.

    Placed after the request id (probe lines carry one too) and the security headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        from pushpay.metrics import metrics

        self.routes: dict[str, Callable[[HttpRequest], HttpResponse]] = {
            "/livez": livez,
            "/readyz": readyz,
            "/healthz": healthz,
            "/metrics": metrics,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.routes.get(request.path_info)
        if view is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        request.probe_route = request.path_info
        return view(request)
