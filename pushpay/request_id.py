"""A request id for every request, echoed in ``X-Request-ID`` and carried into its tasks.

An incoming ``X-Request-ID`` (set by the load balancer or the integrator) is kept when it is
sane, so one id follows a call from the edge through the web process into the q cluster;
otherwise a new one is made. Tasks get it through django-q2's own signals, not through their
call sites: ``pre_enqueue`` stores the bound context in the task package (so every
``async_task`` of every app carries it, whatever machine runs the task), ``pre_execute``
binds it in the worker and ``post_execute_in_worker`` puts the worker's previous context
back (in sync mode the task runs inside the request that enqueued it). A task enqueued
outside any request (the scheduler's) gets an id of its own.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable
from threading import local

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from pushpay.logs import LogContext, bind, current, unbind

HEADER = "X-Request-ID"
TASK_KEY = "pushpay_log_context"
# Letters, digits and a few separators, as load balancers and tracing ids use; anything else
# (spaces, quotes, control characters, a megabyte of text) would pollute logs and headers.
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")

access_logger = logging.getLogger("pushpay.access")
task_logger = logging.getLogger("pushpay.tasks")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(header: str | None) -> str:
    """The incoming id when it is sane, else a new one."""
    if header and SANE_ID.fullmatch(header):
        return header
    return new_request_id()


class RequestIdMiddleware:
    """Binds the request's log context and writes one access line per request.

    The access line names the route pattern (``pay/<str:token>/``), never the path: payer
    links and progress links carry their bearer secret in the path.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = bind(LogContext(request_id=request_id, request=request))
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            if settings.ACCESS_LOG:
                match = getattr(request, "resolver_match", None)
                route = match.route if match else getattr(request, "probe_route", None)
                access_logger.info(
                    "%s %s %s",
                    request.method,
                    route or "(unrouted)",
                    response.status_code,
                    extra={
                        "method": request.method,
                        "route": route,
                        "view": match.view_name if match else None,
                        "status": response.status_code,
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    },
                )
            return response
        finally:
            unbind(token)


# --- django-q2 hooks ------------------------------------------------------------------------

_previous = local()


def on_pre_enqueue(sender, task: dict, **kwargs) -> None:
    context = current()
    task[TASK_KEY] = {
        "request_id": context.request_id if context else new_request_id(),
        "merchant": context.merchant_id() if context else None,
    }


def on_pre_execute(sender, func, task: dict, **kwargs) -> None:
    carried = task.get(TASK_KEY) or {}
    stack = getattr(_previous, "stack", None)
    if stack is None:
        stack = _previous.stack = []
    stack.append(current())
    request_id = carried.get("request_id")
    if not (isinstance(request_id, str) and SANE_ID.fullmatch(request_id)):
        request_id = new_request_id()
    merchant = carried.get("merchant")
    bind(
        LogContext(
            request_id=request_id,
            merchant=merchant if isinstance(merchant, str) else None,
            task=str(task.get("func")),
        )
    )
    task_logger.info("task %s started", task.get("func"), extra={"task_id": task.get("id")})


def on_post_execute_in_worker(sender, func, task: dict, **kwargs) -> None:
    task_logger.info(
        "task %s finished",
        task.get("func"),
        extra={"task_id": task.get("id"), "success": task.get("success", False)},
    )
    stack = getattr(_previous, "stack", None)
    bind(stack.pop() if stack else None)


def connect_task_hooks() -> None:
    from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

    pre_enqueue.connect(on_pre_enqueue, dispatch_uid="pushpay.request_id.pre_enqueue")
    pre_execute.connect(on_pre_execute, dispatch_uid="pushpay.request_id.pre_execute")
    post_execute_in_worker.connect(
        on_post_execute_in_worker, dispatch_uid="pushpay.request_id.post_execute"
    )
