"""Every route of the project, read from Django's URL resolver, for tests that must cover
all of them: junk input, another merchant's or the other mode's ids, and the role matrix
(tests/core/test_role_matrix.py).

    from tests.routes import iter_routes, merchant_objects, url_for

    for route in iter_routes(kinds={"api", "backoffice"}):
        for method in route.methods:
            ids = route.ids_from(merchant_objects(merchant))   # real ids of that merchant
            url = url_for(route, **ids)                        # or url_for(route, **junk)

A route added to any urls.py shows up here by itself. What it cannot guess is what a URL
kwarg names: ``<str:public_id>`` after ``scenarios/`` is a scenario, after ``forms/`` a form.
``KWARG_RESOURCES`` says it for each (previous path segment, kwarg) pair; a product route
whose kwarg is missing from it is listed by ``Route.unknown_kwargs`` and fails
``tests/core/test_route_walker.py``, so a new route is never silently skipped.

The methods of a route are the handlers its view defines: for DRF and Django class-based
views, the ``http_method_names`` the class implements (``options`` and ``head``, which every
view answers, are left out); a function view may take anything, so GET and POST are tried.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

# Kinds of route, by the prefix of their full pattern.
KINDS = (
    ("api/v1/", "api"),
    ("app/", "backoffice"),
    ("pay/", "payer"),
    ("progress/", "progress"),
    ("sandbox/", "sandbox"),
    ("v2/rest/", "centralpay"),
    # Probes and metrics (pushpay.health, pushpay.metrics): walked with junk like the rest.
    ("healthz", "operations"),
    ("livez", "operations"),
    ("readyz", "operations"),
    ("metrics", "operations"),
    # The team invitation link an invited person opens, logged in or not (merchants.JoinView).
    ("accounts/invitation/", "accounts"),
)
PRODUCT_KINDS = frozenset(kind for _, kind in KINDS)

# What each URL kwarg designates, keyed by the literal path segment just before it. The
# resources are those ``merchant_objects`` builds; ``path`` is free text (no object).
KWARG_RESOURCES: dict[tuple[str, str], str] = {
    ("payment-requests", "public_id"): "request",
    ("requests", "public_id"): "request",
    ("participants", "participant_id"): "participant",
    ("notifications", "notification_id"): "dispatch",
    ("notifications", "dispatch_id"): "dispatch",
    ("scenarios", "public_id"): "scenario",
    ("templates", "public_id"): "template",
    ("forms", "public_id"): "form",
    ("webhook-endpoints", "public_id"): "webhook_endpoint",
    ("webhooks", "public_id"): "webhook_endpoint",
    ("webhook-deliveries", "public_id"): "webhook_delivery",
    ("deliveries", "delivery_id"): "webhook_delivery",
    ("pay", "token"): "link_token",
    ("return", "checkout_id"): "checkout",
    ("receipt", "checkout_id"): "checkout",
    ("held", "checkout_id"): "checkout",
    ("cancel", "checkout_id"): "checkout",
    ("progress", "token"): "progress_token",
    ("3ds", "public_id"): "challenge",
    ("holiday-vouchers", "number"): "beneficiary",
    ("installment-plans", "public_id"): "installment_plan",
    ("plan", "plan_id"): "installment_plan",
    ("installments", "public_id"): "installment_plan",
    ("payment-methods", "code"): "payment_method",
    ("paypal", "public_id"): "paypal_order",
    ("wallets", "public_id"): "wallet",
    ("v1", "anything"): "path",
    ("reconciliations", "public_id"): "daily_reconciliation",
    ("events", "public_id"): "event",
    # The CentralPay-compatible API (requests_app/centralpay): a transaction is a leg.
    ("paymentRequest", "public_id"): "request",
    ("paymentRequestBreakdown", "public_id"): "participant",
    ("transaction", "uuid"): "transaction",
    ("rest", "anything"): "path",
    ("api-keys", "public_id"): "api_key",
    ("versions", "number"): "form_version",
    ("csv-jobs", "public_id"): "csv_job",
    ("members", "member_id"): "membership",
    ("invitations", "invitation_id"): "invitation",
    ("invitation", "token"): "invitation_token",
}
# Resources that belong to one merchant and that an operator or API key reaches by id: the
# ones another merchant must get a 404 for.
MERCHANT_SCOPED = frozenset(
    {
        "request",
        "participant",
        "dispatch",
        "scenario",
        "template",
        "form",
        "webhook_endpoint",
        "installment_plan",
        "wallet",
    }
    | {"daily_reconciliation"}
    | {"event"}
    | {"transaction"}
    | {"api_key"}
    | {"webhook_delivery"}
    | {"csv_job"}
    | {"membership", "invitation"}
)
# Resources that exist in test or in live mode: a key (or a back-office session) of the other
# mode must get a 404 for them, as if they belonged to someone else.
MODE_BOUND = frozenset(
    {"request", "participant", "dispatch", "webhook_endpoint", "daily_reconciliation", "wallet"}
    | {"event"}
    | {"transaction"}
    | {"api_key"}
    | {"webhook_delivery"}
    | {"csv_job"}
)

# Values for any kwarg that no object has: wrong prefixes, empty-looking, long, encoded.
JUNK_KWARGS = (
    "x",
    "pr_" + "A" * 24,
    "..",
    "%2e%2e%2f",
    "é☃",
    "9" * 400,
    "'; DROP TABLE x; --",
)

_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
_VIEW_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    """One URL pattern with everything a walker needs to call it.

    ``name`` is namespaced (``backoffice:request_detail``) or None; ``pattern`` the full
    pattern from the root (``app/requests/<str:public_id>/``); ``kwargs_names`` in order of
    appearance; ``resources`` maps each kwarg to what it designates (None when unknown).
    """

    name: str | None
    pattern: str
    methods: tuple[str, ...]
    kind: str
    kwargs_names: tuple[str, ...]
    resources: Mapping[str, str | None] = field(default_factory=dict)
    view: object = None
    is_regex: bool = False

    @property
    def label(self) -> str:
        return self.name or self.pattern

    @property
    def unknown_kwargs(self) -> tuple[str, ...]:
        return tuple(name for name in self.kwargs_names if self.resources.get(name) is None)

    @property
    def scoped_kwargs(self) -> tuple[str, ...]:
        """Kwargs that name an object of one merchant (the 404-for-others ones)."""
        return tuple(n for n in self.kwargs_names if self.resources.get(n) in MERCHANT_SCOPED)

    @property
    def mode_bound_kwargs(self) -> tuple[str, ...]:
        """Kwargs that name an object of one mode (the 404-for-the-other-mode ones)."""
        return tuple(n for n in self.kwargs_names if self.resources.get(n) in MODE_BOUND)

    def ids_from(self, objects: Mapping[str, str]) -> dict[str, str]:
        """The kwargs filled from ``merchant_objects(...)``; free-text kwargs get "x"."""
        values = {}
        for name in self.kwargs_names:
            resource = self.resources.get(name)
            values[name] = "x" if resource == "path" else objects[resource]
        return values


def _kind(pattern: str) -> str:
    return next((kind for prefix, kind in KINDS if pattern.startswith(prefix)), "other")


def _methods(callback) -> tuple[str, ...]:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return ("GET", "POST")
    names = getattr(view_class, "http_method_names", _VIEW_METHODS)
    return tuple(m.upper() for m in _VIEW_METHODS if m in names and hasattr(view_class, m))


def _resources(pattern: str) -> dict[str, str | None]:
    resources: dict[str, str | None] = {}
    for match in _CONVERTER.finditer(pattern):
        before = [part for part in pattern[: match.start()].split("/") if part]
        previous = before[-1] if before else ""
        resources[match["name"]] = KWARG_RESOURCES.get((previous, match["name"]))
    return resources


def _walk(resolver: URLResolver, prefix: str, namespaces: tuple[str, ...]) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            spaces = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from _walk(entry, prefix + str(entry.pattern), spaces)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            is_regex = not isinstance(entry.pattern, RoutePattern)
            if is_regex:
                kwargs_names = tuple(entry.pattern.regex.groupindex)
            else:
                kwargs_names = tuple(m["name"] for m in _CONVERTER.finditer(pattern))
            yield Route(
                name=":".join((*namespaces, entry.name)) if entry.name else None,
                pattern=pattern,
                methods=_methods(entry.callback),
                kind=_kind(pattern),
                kwargs_names=kwargs_names,
                resources={} if is_regex else _resources(pattern),
                view=entry.callback,
                is_regex=is_regex or "^" in pattern,
            )


def iter_routes(kinds: Iterable[str] | None = None) -> Iterator[Route]:
    """Every route of the root URLconf in resolution order, optionally of some kinds only
    (``api``, ``backoffice``, ``payer``, ``progress``, ``sandbox``, ``operations``,
    ``accounts``, ``other``)."""
    wanted = set(kinds) if kinds is not None else None
    for route in _walk(get_resolver(), "", ()):
        if wanted is None or route.kind in wanted:
            yield route


def url_for(route: Route, **values: str) -> str:
    """The path of ``route`` with its kwargs replaced by ``values`` (percent-encoded, so
    junk stays inside its segment)."""
    if route.is_regex:
        raise ValueError(f"{route.label}: regex routes are not walked ({route.pattern})")
    missing = set(route.kwargs_names) - set(values)
    if missing:
        raise KeyError(f"{route.label} needs {sorted(missing)}")
    return "/" + _CONVERTER.sub(lambda m: quote(str(values[m["name"]]), safe=""), route.pattern)


def merchant_objects(merchant, *, livemode: bool = False) -> dict[str, str]:
    """One object of each resource for ``merchant``, built through the services, keyed as
    in ``KWARG_RESOURCES``: a request with participants, a planned notification, a scenario,
    an email template, a smart form, a webhook endpoint, a credited wallet, and a checkout
    waiting for its 3-D Secure challenge (its return page and challenge id), and a sandbox
    PayPal order waiting for the payer's approval.

    ``livemode=True`` makes the mode-bound ones (``MODE_BOUND``) live; it needs the
    ``live_cards`` fixture, and has no checkout or challenge, since only the sandbox asks
    for a 3-D Secure challenge. A ``transaction`` is a captured leg: a live one is paid
    through the live acquirer stub, a test one is the installment plan's first charge."""
    from django.utils import timezone

    from merchants.services import api_key_create, invitation_create, invitation_token
    from payments import services as payment_services
    from payments.sandbox.paypal import sandbox_paypal_order_create
    from payments.sandbox.services import sandbox_card_tokenise
    from payments.wallet import services as wallet_services
    from pushpay.ids import new_public_id
    from scenarios import services as scenario_services
    from scenarios.models import Dispatch
    from smartforms.services import form_create
    from tests.factories import MembershipFactory, make_request
    from tests.payments.conftest import CHALLENGE, card_details
    from tests.scenarios.helpers import make_scenario, step

    mode = "live" if livemode else "test"
    template = _template(merchant, name=f"Walker email ({mode})")
    scenario = make_scenario(merchant, [step("request_created", template)])
    form = form_create(
        merchant=merchant,
        name=f"Walker form ({mode})",
        fields=[{"key": "company", "type": "text", "label": {"en": "Company"}}],
    )
    payment_request = make_request(merchant, public_progress=True, livemode=livemode)
    scenario_services.dispatches_plan_for_request(
        payment_request=payment_request, scenario=scenario
    )
    participant = payment_request.participants.order_by("id").first()
    dispatch = Dispatch.objects.filter(request=payment_request).order_by("id").first()
    endpoint = scenario_services.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/in", livemode=livemode, events=["*"]
    )
    # A second request, so that the endpoint has a delivery (of its request_created event).
    make_request(merchant, livemode=livemode)
    delivery = Dispatch.objects.filter(webhook_endpoint=endpoint).order_by("id").first()
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=livemode, holder_email=f"walker-{mode}@example.com"
    )
    wallet_services.wallet_credit(wallet=wallet, amount=500)
    invitation = invitation_create(
        merchant=merchant, email=f"walker-{new_public_id('x')}@example.com".lower()
    )
    objects = {
        "request": payment_request.public_id,
        "participant": participant.public_id,
        "dispatch": dispatch.public_id,
        "scenario": scenario.public_id,
        "template": template.public_id,
        "form": form.public_id,
        "webhook_endpoint": endpoint.public_id,
        "webhook_delivery": delivery.public_id,
        "wallet": wallet.public_id,
        "event": payment_request.events.order_by("id").first().public_id,
        "api_key": api_key_create(
            merchant=merchant, name=f"Walker key ({mode})", mode=mode
        ).api_key.public_id,
        "link_token": participant.link_token,
        "progress_token": payment_request.progress_token,
        "beneficiary": "1000000050",  # a documented sandbox number, the same for everyone
        "payment_method": "holiday_voucher",  # registry codes are the same for everyone
        "form_version": "1",  # a number within the form, which is the scoped part
        "daily_reconciliation": payment_services.daily_reconciliation_build(
            merchant=merchant, livemode=livemode, day=timezone.localdate()
        ).public_id,
        "csv_job": _csv_import_job(merchant, livemode=livemode).public_id,
        # Team rows have no mode: one agent and one open invitation per call.
        "membership": MembershipFactory(merchant=merchant, role="agent").public_id,
        "invitation": invitation.public_id,
        # The signed link of that open invitation (the join page under /accounts/).
        "invitation_token": invitation_token(invitation),
    }
    if livemode:
        paid = payment_services.checkout_start(
            participant=payment_request.participants.order_by("id")[2],
            method="card",
            source="live_card_walker",
            return_url=lambda co: "https://shop.example/return",
        )
        return {**objects, "transaction": paid.legs.get().public_id}
    details = card_details(CHALLENGE)
    card = sandbox_card_tokenise(
        number=details["number"].replace(" ", ""),
        exp_month=details["exp_month"],
        exp_year=details["exp_year"],
        cvc=details["cvc"],
    )
    checkout = payment_services.checkout_start(
        participant=participant,
        method="card",
        source=card.token,
        return_url=lambda co: f"http://testserver/pay/{participant.link_token}/return/",
    )
    action_url = checkout.legs.get().action_url
    paypal_order = sandbox_paypal_order_create(
        merchant=merchant,
        source="paypal",
        amount=1000,
        currency="EUR",
        idempotency_key=f"walker-{checkout.public_id}",
        return_url=f"http://testserver/pay/{participant.link_token}/return/",
    )
    from payments.installments.services import installment_plan_start

    good = card_details()
    plan = installment_plan_start(
        participant=payment_request.participants.order_by("id")[1],
        source=sandbox_card_tokenise(
            number=good["number"].replace(" ", ""),
            exp_month=good["exp_month"],
            exp_year=good["exp_year"],
            cvc=good["cvc"],
        ).token,
        count=2,
        interval_unit="month",
    )
    from payments.models import Leg

    charged = Leg.objects.get(checkout__participant=plan.participant, status=Leg.Status.CAPTURED)
    return {
        **objects,
        "transaction": charged.public_id,
        "checkout": checkout.public_id,
        "challenge": action_url.rstrip("/").rsplit("/", 1)[-1],
        "paypal_order": paypal_order.public_id,
        "installment_plan": plan.public_id,
    }


def _template(merchant, *, name: str):
    from notifications import services as template_services

    return template_services.template_create(
        merchant=merchant,
        name=name,
        channel="email",
        subject={"en": "Pay {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}, pay {{ amount_due }}: {{ pay_url }}"},
    )


def _csv_import_job(merchant, *, livemode: bool):
    """A checked CSV import waiting for its confirmation (what the confirm route acts on)."""
    from requests_app.services import csv_io

    job = csv_io.csv_import_upload(
        merchant=merchant,
        livemode=livemode,
        user=None,
        filename="walker.csv",
        data=(
            "reference,currency,amount,participant_name,participant_email\n"
            f"WALK-CSV-{'live' if livemode else 'test'}-{merchant.pk},EUR,10.00,Ann,a@example.com\n"
        ).encode(),
    )
    return csv_io.import_check(job=job)
