"""Structured logs: one JSON object per line in production, with a request id that comes from
X-Request-ID when sane, is echoed back, and follows the request into the tasks it enqueues."""

import io
import json
import logging
import re
import subprocess
import sys
from unittest import mock

import pytest
from django.test import Client
from django_q.tasks import async_task

from pushpay.logs import ContextFilter, JsonFormatter, LogContext, bind, current, unbind
from pushpay.request_id import TASK_KEY
from tests.core.test_commands import PRODUCTION_ENV
from tests.factories import MembershipFactory
from tests.requests_app.test_create_payment_request import URL, body

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines():
    """Every line the root logger writes, formatted as production formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


def test_production_settings_write_one_json_object_per_line():
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('pushpay.check').warning('two\\nlines %s', 'here')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "pushpay.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    mine = [e for e in entries if e["logger"] == "pushpay.check"]
    assert len(mine) == 1, result.stderr
    assert mine[0]["message"] == "two\nlines here"
    assert mine[0]["level"] == "WARNING"
    assert mine[0]["time"].endswith("+00:00")
    assert {"request_id", "merchant"} <= set(mine[0])


def test_debug_settings_write_readable_lines():
    script = "import django, logging; django.setup(); logging.getLogger('p').warning('hi')"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**PRODUCTION_ENV, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "pushpay.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stderr.strip().endswith("WARNING p [-] hi"), result.stderr


@pytest.mark.django_db
def test_an_api_call_logs_its_request_id_and_merchant_and_echoes_the_id(
    api, merchant, future, log_lines
):
    response = api.post(URL, body(future), format="json", HTTP_X_REQUEST_ID="lb-7f3a.2:9")

    assert response.status_code == 201
    assert response["X-Request-ID"] == "lb-7f3a.2:9"
    access = [e for e in log_lines() if e["logger"] == "pushpay.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "lb-7f3a.2:9"
    assert access[0]["merchant"] == merchant.public_id
    assert access[0]["route"] == "api/v1/payment-requests"
    assert access[0]["status"] == 201 and access[0]["method"] == "POST"
    assert isinstance(access[0]["duration_ms"], float)


@pytest.mark.django_db
def test_the_access_line_names_the_route_never_the_payer_links_secret(merchant, log_lines):
    from tests.factories import make_request

    token = make_request(merchant).participants.first().link_token
    assert Client().get(f"/pay/{token}/").status_code == 200
    text = json.dumps(log_lines())
    assert token not in text
    assert "pay/<str:token>/" in text


@pytest.mark.django_db
def test_a_back_office_line_names_the_operators_merchant(client, merchant, log_lines):
    client.force_login(MembershipFactory(merchant=merchant).user)
    assert client.get("/app/").status_code == 200
    access = [e for e in log_lines() if e["logger"] == "pushpay.access"]
    assert access[-1]["merchant"] == merchant.public_id


@pytest.mark.parametrize(
    "header",
    ["", "has space", "x" * 129, "<script>", "-leading-dash", "é", "a\tb", "id;drop"],
)
def test_an_insane_incoming_id_is_replaced_by_a_new_one(client, header):
    response = client.get("/livez", HTTP_X_REQUEST_ID=header)
    assert GENERATED.fullmatch(response["X-Request-ID"]), response["X-Request-ID"]


def test_each_request_without_an_id_gets_its_own(client):
    first = client.get("/livez")["X-Request-ID"]
    second = client.get("/livez")["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


def test_an_error_page_carries_the_id_too(client):
    response = client.get("/app/nothing-here/", HTTP_X_REQUEST_ID="abc")
    assert response.status_code in (302, 404) and response["X-Request-ID"] == "abc"


@pytest.mark.django_db(transaction=True)
def test_the_request_id_follows_the_request_into_the_tasks_it_enqueues(
    api, merchant, future, log_lines
):
    created = api.post(URL, body(future), format="json").json()
    # Cancelling releases holds in an after-commit reaction: a task, enqueued when the
    # service's transaction commits inside the request (run inline here, Q_CLUSTER sync).
    response = api.post(
        f"{URL}/{created['id']}/cancel", {}, format="json", HTTP_X_REQUEST_ID="req-42"
    )
    assert response.status_code == 200, response.content

    lines = log_lines()
    started = [e for e in lines if e["logger"] == "pushpay.tasks" and "started" in e["message"]]
    assert [e["task"] for e in started] == ["requests_app.tasks.event_react"]
    assert started[0]["request_id"] == "req-42"
    assert started[0]["merchant"] == merchant.public_id
    finished = [e for e in lines if e["logger"] == "pushpay.tasks" and "finished" in e["message"]]
    assert [(e["request_id"], e["success"]) for e in finished] == [("req-42", True)]
    # The worker's own lines (django-q's logger) carry it too.
    assert any(e["logger"] == "django-q" and e["request_id"] == "req-42" for e in lines)
    assert current() is None


@pytest.mark.django_db
def test_a_cluster_worker_logs_the_id_carried_in_the_task_package(log_lines):
    """The cluster path: the package leaves through the broker and is run elsewhere, with
    no context of the request left."""
    from django_q.signing import SignedPackage
    from django_q.tasks import _sync

    sent = []
    broker = mock.Mock(enqueue=lambda pack: sent.append(pack) or "1", list_key="q")
    token = bind(LogContext(request_id="req-9", merchant="mc_abc"))
    try:
        with mock.patch("django_q.tasks.get_broker", return_value=broker):
            async_task("math.floor", 1.5, sync=False)
    finally:
        unbind(token)
    assert current() is None and len(sent) == 1

    task = SignedPackage.loads(sent[0])
    assert task[TASK_KEY] == {"request_id": "req-9", "merchant": "mc_abc"}
    task["sync"] = True  # run it here, in this process, as a worker would
    _sync(SignedPackage.dumps(task))

    started = [e for e in log_lines() if e["message"] == "task math.floor started"]
    assert [(e["request_id"], e["merchant"]) for e in started] == [("req-9", "mc_abc")]
    assert current() is None


@pytest.mark.django_db
def test_a_task_enqueued_outside_any_request_gets_an_id_of_its_own(log_lines):
    async_task("math.floor", 1.5)
    async_task("math.floor", 2.5)
    ids = [
        e["request_id"]
        for e in log_lines()
        if e["logger"] == "pushpay.tasks" and e["message"] == "task math.floor started"
    ]
    assert len(ids) == 2 and ids[0] != ids[1]
    assert all(GENERATED.fullmatch(i) for i in ids)
    assert current() is None


@pytest.mark.django_db
def test_a_failing_task_gives_back_the_context_it_ran_in(log_lines):
    token = bind(LogContext(request_id="outer"))
    try:
        with pytest.raises(ValueError):
            async_task("json.loads", "{")
        assert current().request_id == "outer"
    finally:
        unbind(token)
    finished = [e for e in log_lines() if e["message"] == "task json.loads finished"]
    assert finished[0]["success"] is False and finished[0]["request_id"] == "outer"


def test_a_forged_id_in_a_task_package_is_not_trusted(log_lines):
    from pushpay.request_id import on_post_execute_in_worker, on_pre_execute

    task = {"id": "t1", "func": "x.y", TASK_KEY: {"request_id": "bad id\n", "merchant": 5}}
    on_pre_execute(None, func=None, task=task)
    try:
        assert GENERATED.fullmatch(current().request_id)
        assert current().merchant_id() is None
    finally:
        on_post_execute_in_worker(None, func=None, task=task)
    assert current() is None


def test_the_formatter_keeps_one_line_drops_objects_and_keeps_the_traceback():
    formatter = JsonFormatter()
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("t").makeRecord(
            "t",
            logging.ERROR,
            __file__,
            1,
            "failed\r\nhere",
            (),
            sys.exc_info(),
            extra={"request": object(), "status_code": 500, "payload": {"a": 1}},
        )
    ContextFilter().filter(record)
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed\r\nhere"
    assert entry["status_code"] == 500
    assert "request" not in entry and "payload" not in entry
    assert "RuntimeError: boom" in entry["exception"]
    assert entry["request_id"] is None and entry["merchant"] is None
