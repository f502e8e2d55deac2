"""Merchant-scoped reads for payments."""

import json
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections, router
from django.db.models import Count, Sum, prefetch_related_objects
from django.db.models.functions import TruncDay

from merchants.models import Merchant
from pushpay.errors import InvalidInput
from requests_app import selectors as requests_selectors
from requests_app.models import Participant, PaymentRequest

from .adapters.accounts import configured_modes_remember
from .credentials_models import ProviderCredential
from .installments.models import InstallmentPlan
from .models import Checkout, Leg, MerchantPaymentMethod
from .registry import adapter_for, payment_method_available, payment_methods


def provider_credential_get(
    *, merchant: Merchant, livemode: bool, provider: str
) -> ProviderCredential | None:
    """The merchant's account at ``provider`` in this mode, if it entered one."""
    return ProviderCredential.objects.filter(
        merchant=merchant, livemode=livemode, provider=provider
    ).first()


def provider_credential_by_webhook_id(
    *, provider: str, webhook_id: str
) -> ProviderCredential | None:
    """The account a provider's webhook delivery is addressed to (the id in its URL)."""
    if not isinstance(webhook_id, str) or len(webhook_id) > 40:
        return None
    return (
        ProviderCredential.objects.select_related("merchant")
        .filter(provider=provider, webhook_id=webhook_id)
        .first()
    )


# The merchant's method rows, kept on the merchant object only by a read that fetched them
# with it (``payment_method_choices_remember``). Never filled here: a service that switches a
# method off and reads again on the same object must see the change.
_CHOICES_READ = "_payment_method_choices_read"


def payment_method_choices_remember(
    *, merchant: Merchant, rows: Iterable[tuple[str, bool]]
) -> None:
    """Keep the merchant's ``(method, enabled)`` rows read together with it, so that
    ``payment_methods_enabled`` answers for this object without another query. Only the
    payer page's read does this: its object lives for one GET, and the pay path reads the
    merchant afresh."""
    merchant.__dict__[_CHOICES_READ] = {method: bool(enabled) for method, enabled in rows}


def payment_methods_enabled(*, merchant: Merchant) -> list[str]:
    """Codes of the methods this merchant offers, in registry order.

    A method the merchant never configured follows its ``enabled_by_default``: card is on
    when nothing is configured, every other method is off until enabled. An explicit row
    always wins, so a merchant can switch cards off too.
    """
    choices = merchant.__dict__.get(_CHOICES_READ)
    if choices is None:
        choices = dict(
            MerchantPaymentMethod.objects.filter(merchant=merchant).values_list("method", "enabled")
        )
    return [m.code for m in payment_methods() if choices.get(m.code, m.enabled_by_default)]


def payment_methods_for_request(*, payment_request) -> list[str]:
    """The methods a payer of this request may use now: those the request allows (or the
    merchant offers), less those that cannot move money in the request's mode. A live
    request whose merchant has no live card provider does not offer cards at all."""
    candidates = payment_request.allowed_payment_methods or payment_methods_enabled(
        merchant=payment_request.merchant
    )
    return [
        code
        for code in candidates
        if payment_method_available(
            merchant=payment_request.merchant, method=code, livemode=payment_request.livemode
        )
    ]


def checkout_for_participant(*, participant, public_id: str) -> Checkout | None:
    """A payer only ever reaches the checkouts of their own link."""
    return (
        Checkout.objects.filter(participant=participant, public_id=public_id)
        .prefetch_related("legs")
        .first()
    )


def checkout_for_installment(*, participant, installment: str) -> Checkout | None:
    """The latest checkout of one of the payer's installments (its first charge, say)."""
    return (
        Checkout.objects.filter(participant=participant, installment=installment)
        .prefetch_related("legs")
        .order_by("-created_at", "-id")
        .first()
    )


def checkout_last_succeeded(*, participant) -> Checkout | None:
    return Checkout.objects.filter(
        participant=participant, status=Checkout.Status.SUCCEEDED
    ).first()


@dataclass(frozen=True)
class PayerPageCheckouts:
    """What the payer's page shows of their checkouts, as the three selectors above and
    ``checkout_waiting`` would answer, from one read (the page is the hottest public route)."""

    held: Checkout | None
    waiting: Checkout | None
    first_succeeded: Checkout | None


# The checkouts the payer's page shows, in the states it shows them.
PAYER_PAGE_SHOWN = (
    Checkout.Status.AUTHORISED,
    Checkout.Status.REQUIRES_ACTION,
    Checkout.Status.SUCCEEDED,
)
NO_PAYER_PAGE_CHECKOUTS = PayerPageCheckouts(held=None, waiting=None, first_succeeded=None)


def payer_page_checkouts(*, participant) -> PayerPageCheckouts:
    """The latest hold, the latest checkout waiting at a provider's page (with its legs) and
    the first successful one. Only checkouts in those three states are read: a payer has few
    (one hold, one waiting, one success per installment at most), however often they failed."""
    rows = list(
        Checkout.objects.filter(participant=participant, status__in=PAYER_PAGE_SHOWN).order_by(
            "-created_at", "-id"
        )
    )

    def latest(status: str) -> Checkout | None:
        return next((row for row in rows if row.status == status), None)

    succeeded = [row for row in rows if row.status == Checkout.Status.SUCCEEDED]
    waiting = latest(Checkout.Status.REQUIRES_ACTION)
    if waiting is not None:
        prefetch_related_objects([waiting], "legs")
    return PayerPageCheckouts(
        held=latest(Checkout.Status.AUTHORISED),
        waiting=waiting,
        first_succeeded=min(succeeded, key=lambda row: row.pk) if succeeded else None,
    )


# --- The payer page's one read ----------------------------------------------------------


@dataclass(frozen=True)
class PayerPage:
    """The payer page's participant (with its request and merchant), read with what decides
    which other reads the page needs: whether the payer has a checkout the page shows (a
    hold, one waiting at a provider, a success) and whether they ever had an installment
    plan. The merchant's method rows and provider accounts come with it, kept on the merchant
    object for the selectors that ask them."""

    participant: Participant
    has_shown_checkouts: bool
    has_plan: bool


# Per-vendor SQL aggregating a subquery's rows into one JSON array of [a, b] pairs.
_JSON_PAIRS = {
    "postgresql": "(SELECT json_agg(json_build_array({a}, {b}))::text FROM {table} WHERE {where})",
    "sqlite": "(SELECT json_group_array(json_array({a}, {b})) FROM {table} WHERE {where})",
}


@dataclass(frozen=True)
class _RowPart:
    """Where one model's columns sit in the payer page's row, and their converters (what
    the ORM applies to a column read from this database: JSON, dates on SQLite …)."""

    model: type
    attnames: list[str]
    start: int
    stop: int
    converters: list[tuple[int, list, object]]


@dataclass(frozen=True)
class _PayerPageRead:
    sql: str
    parts: list[_RowPart]


# Built once per database connection object: the page is the hottest public route, and
# compiling the same ORM query (and its converters) on every view cost more than running it.
_payer_page_reads: "weakref.WeakKeyDictionary[object, _PayerPageRead]" = weakref.WeakKeyDictionary()


def _payer_page_read(db) -> _PayerPageRead:
    """The payer page's one query for ``db``. Every column of the three rows is read, as
    ``select_related`` would, so no attribute of them is ever fetched later one by one."""
    read = _payer_page_reads.get(db)
    if read is not None:
        return read
    quote = db.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def col(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    compiler = Participant.objects.none().query.get_compiler(connection=db)
    columns, parts = [], []
    for model, alias in ((Participant, "p"), (PaymentRequest, "r"), (Merchant, "m")):
        fields = model._meta.concrete_fields
        start = len(columns)
        columns += [f"{alias}.{quote(field.column)}" for field in fields]
        found = compiler.get_converters([f.get_col(model._meta.db_table) for f in fields])
        parts.append(
            _RowPart(
                model=model,
                attnames=[field.attname for field in fields],
                start=start,
                stop=len(columns),
                converters=[(pos, convs, expr) for pos, (convs, expr) in found.items()],
            )
        )
    pairs = _JSON_PAIRS[db.vendor]
    methods = pairs.format(
        a=col(MerchantPaymentMethod, "method"),
        b=col(MerchantPaymentMethod, "enabled"),
        table=table(MerchantPaymentMethod),
        where=f"{col(MerchantPaymentMethod, 'merchant')} = m.{quote('id')}",
    )
    credentials = pairs.format(
        a=col(ProviderCredential, "provider"),
        b=col(ProviderCredential, "livemode"),
        table=table(ProviderCredential),
        where=f"{col(ProviderCredential, 'merchant')} = m.{quote('id')}",
    )
    # Only names from the models' own metadata, quoted, go into the text; every value (the
    # statuses, the token) is a parameter.
    placeholders = ", ".join(["%s"] * len(PAYER_PAGE_SHOWN))
    checkouts = (
        f"EXISTS (SELECT 1 FROM {table(Checkout)} WHERE {col(Checkout, 'participant')} = "  # noqa: S608
        f"p.{quote('id')} AND {col(Checkout, 'status')} IN ({placeholders}))"
    )
    # The same rows installment_plan_latest reads: the participant's, in its merchant and mode.
    plans = (
        f"EXISTS (SELECT 1 FROM {table(InstallmentPlan)} WHERE "  # noqa: S608
        f"{col(InstallmentPlan, 'participant')} = p.{quote('id')} AND "
        f"{col(InstallmentPlan, 'merchant')} = p.{col(Participant, 'merchant')} AND "
        f"{col(InstallmentPlan, 'livemode')} = p.{col(Participant, 'livemode')})"
    )
    request_id = col(Participant, "request")
    merchant_id = col(PaymentRequest, "merchant")
    sql = (
        f"SELECT {', '.join(columns)}, {methods}, {credentials}, {checkouts}, {plans} "  # noqa: S608
        f"FROM {table(Participant)} p "
        f"INNER JOIN {table(PaymentRequest)} r ON r.{quote('id')} = p.{request_id} "
        f"INNER JOIN {table(Merchant)} m ON m.{quote('id')} = r.{merchant_id} "
        f"WHERE p.{col(Participant, 'link_token')} = %s"
    )
    read = _PayerPageRead(sql=sql, parts=parts)
    _payer_page_reads[db] = read
    return read


def payer_page_participant(*, token: str) -> PayerPage | None:
    """``requests_app.selectors.participant_by_link_token`` for the payer page, in one query
    instead of five: the participant, its request and merchant, the merchant's method rows
    and provider accounts, and whether checkouts or a plan need reading. ``None`` for an
    unknown token.

    Other databases than PostgreSQL and SQLite take the ordinary reads."""
    db = connections[router.db_for_read(Participant)]
    if db.vendor not in _JSON_PAIRS:
        participant = requests_selectors.participant_by_link_token(token=token)
        return None if participant is None else PayerPage(participant, True, True)
    read = _payer_page_read(db)
    with db.cursor() as cursor:
        cursor.execute(read.sql, [*PAYER_PAGE_SHOWN, token])
        row = cursor.fetchone()
    if row is None:
        return None
    instances = []
    for part in read.parts:
        values = list(row[part.start : part.stop])
        for pos, convs, expression in part.converters:
            value = values[pos]
            for converter in convs:
                value = converter(value, expression, db)
            values[pos] = value
        instances.append(part.model.from_db(db.alias, part.attnames, values))
    participant, payment_request, merchant = instances
    methods, credentials, has_checkouts, has_plan = row[read.parts[-1].stop :]
    payment_method_choices_remember(merchant=merchant, rows=json.loads(methods or "[]"))
    configured_modes_remember(merchant, json.loads(credentials or "[]"))
    PaymentRequest._meta.get_field("merchant").set_cached_value(payment_request, merchant)
    Participant._meta.get_field("request").set_cached_value(participant, payment_request)
    return PayerPage(participant, bool(has_checkouts), bool(has_plan))


def checkout_held(*, participant) -> Checkout | None:
    """The participant's hold waiting for their collection to complete (on_completion), if
    any: their page then says the payment is held instead of offering to pay again."""
    return (
        Checkout.objects.filter(participant=participant, status=Checkout.Status.AUTHORISED)
        .order_by("-created_at", "-id")
        .first()
    )


# Legs that never moved money; a later refund does not undo that a payment was made.
_TOOK_NOTHING = {
    Leg.Status.CREATED,
    Leg.Status.REQUIRES_ACTION,
    Leg.Status.FAILED,
    Leg.Status.VOIDED,
}


# Providers store brands as codes; a receipt names them as printed on the card.
_BRAND_NAMES = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}


def leg_description(leg: Leg) -> str:
    """How a receipt names one leg: the card as the payer knows it, else the method."""
    label = payment_method_label(leg.method)
    if leg.source_last4:
        brand = _BRAND_NAMES.get(leg.source_brand.lower(), label)
        return f"{brand} •••• {leg.source_last4}"
    return label


def payment_method_label(code: str) -> str:
    method = payment_methods_by_code().get(code)
    return method.label if method is not None else code


def payment_methods_by_code() -> dict:
    return {method.code: method for method in payment_methods()}


def legs_paid(*, checkout: Checkout) -> list[Leg]:
    """The legs that took a checkout's money, each a line of its receipt."""
    return [leg for leg in checkout.legs.all() if leg.status not in _TOOK_NOTHING]


def cards_paid_by_participant(*, payment_request) -> dict[int, list[str]]:
    """The cards each participant of the request paid with ("Visa •••• 4242"), for the
    back office's request page; one query, scoped to the request's merchant and mode."""
    cards: dict[int, list[str]] = {}
    legs = (
        Leg.objects.filter(
            merchant_id=payment_request.merchant_id,
            livemode=payment_request.livemode,
            checkout__request_id=payment_request.pk,
            status__in=Leg.TAKEN,
        )
        .exclude(source_last4="")
        .select_related("checkout")
        .order_by("created_at", "id")
    )
    for leg in legs:
        shown = leg_description(leg)
        seen = cards.setdefault(leg.checkout.participant_id, [])
        if shown not in seen:
            seen.append(shown)
    return cards


def checkout_methods_paid(*, merchant_id: int, public_id: str) -> tuple[str, ...]:
    """How a paid checkout was paid, leg by leg ("Visa •••• 4242"), for receipts.

    Scoped by merchant: an event's payload names the checkout and is never trusted across
    tenants.
    """
    checkout = (
        Checkout.objects.filter(merchant_id=merchant_id, public_id=public_id)
        .prefetch_related("legs")
        .first()
    )
    if checkout is None:
        return ()
    return tuple(leg_description(leg) for leg in legs_paid(checkout=checkout))


def leg_get(*, merchant: Merchant, livemode: bool, public_id: str) -> Leg | None:
    """One leg of this merchant and mode, with its checkout's request and participant and its
    operations (where a provider's fee is read): a payment as an integrator addresses it."""
    return (
        Leg.objects.filter(merchant=merchant, livemode=livemode, public_id=public_id)
        .select_related("checkout__request", "checkout__participant")
        .prefetch_related("operations")
        .first()
    )


def checkouts_by_participant(
    *, merchant: Merchant, livemode: bool, participant_ids: list[str]
) -> dict[str, list[dict]]:
    """Every checkout of these participants with its legs, newest first, keyed by
    participant id: how the API shows each payer's attempts (two queries, however many)."""
    if not participant_ids:
        return {}
    rows = (
        Checkout.objects.filter(
            merchant=merchant, livemode=livemode, participant__public_id__in=participant_ids
        )
        .select_related("participant")
        .prefetch_related("legs")
        .order_by("-created_at", "-id")
    )
    found: dict[str, list[dict]] = {}
    for checkout in rows:
        found.setdefault(checkout.participant.public_id, []).append(
            {
                "id": checkout.public_id,
                "status": checkout.status,
                "amount": checkout.amount,
                "installment_fee": checkout.fee_amount,
                "currency": checkout.currency,
                "failure_reason": checkout.failure_reason or None,
                "created_at": checkout.created_at,
                "legs": [
                    {
                        "id": leg.public_id,
                        "method": leg.method,
                        "amount": leg.amount,
                        "amount_refunded": leg.amount_refunded,
                        "status": leg.status,
                    }
                    for leg in checkout.legs.all()
                ],
            }
        )
    return found


# --- Reconciliation ---------------------------------------------------------------------------
# Reads for the statements of ``payments.services.reconciliation``; every one is scoped to a
# merchant and a mode, because a statement is money.

from .reconciliation_models import (  # noqa: E402
    DailyReconciliation,
    FeeRule,
    Reconciliation,
)

# Collection is over: a statement can be final. A refund afterwards makes its next version.
FINAL_STATUSES = ("paid", "closed", "partially_refunded", "refunded", "cancelled", "expired")


def fee_rules_by_method(*, merchant_id: int) -> dict[str, FeeRule]:
    return {rule.method: rule for rule in FeeRule.objects.filter(merchant_id=merchant_id)}


def fee_rule_list(*, merchant: Merchant) -> list[FeeRule]:
    return list(FeeRule.objects.filter(merchant=merchant))


def legs_reconciled(*, payment_request) -> list[Leg]:
    """Every leg of the request that took money (captured, or refunded since), oldest
    first, with its operations: the lines of its statement."""
    return list(
        Leg.objects.filter(
            merchant_id=payment_request.merchant_id,
            livemode=payment_request.livemode,
            checkout__request_id=payment_request.pk,
            status__in=Leg.TAKEN,
        )
        .select_related("checkout__participant")
        .prefetch_related("operations")
        .order_by("created_at", "id")
    )


def leg_capture_operation(leg: Leg):
    """The provider call that took the leg's money (an authorise that captured at once, a
    capture, or a retrieve that found it captured): the first one that said so."""
    for operation in leg.operations.all():
        if operation.result == "succeeded" and operation.status == "captured":
            return operation
    return None


def leg_provider_fee(leg: Leg) -> int | None:
    """The fee the provider reported for taking this leg, if it reports fees.

    The hook for real providers: when their adapter reports a fee, the saga stores it as
    ``fee`` on the capture's ``LegOperation`` and it wins over the merchant's fee rule.
    Sandboxes report none, so the rule applies.
    """
    fee = getattr(leg_capture_operation(leg), "fee", None)
    if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
        return None
    # What the provider kept on the refunds of the leg too (Stripe reports a balance
    # transaction for each): the leg's fee is everything the provider took for it.
    for operation in leg.operations.all():
        if (
            operation.operation == "refund"
            and operation.result == "succeeded"
            and isinstance(operation.fee, int)
            and operation.fee > 0
        ):
            fee += operation.fee
    return fee


def leg_fee_note(leg: Leg) -> str:
    """Why the provider's fee is not on the line, when the provider reports fees but had
    none to give at the capture (Stripe's balance transaction not there yet)."""
    capture = leg_capture_operation(leg)
    return getattr(capture, "fee_note", "") if capture is not None else ""


def leg_fee(leg: Leg, rules: dict[str, FeeRule]) -> tuple[int, str]:
    """(fee, where it comes from: "provider", "rule" or "none")."""
    reported = leg_provider_fee(leg)
    if reported is not None:
        return reported, "provider"
    rule = rules.get(leg.method)
    if rule is None:
        return 0, "none"
    return rule.fee_for(leg.amount), "rule"


def _totals(lines: list[dict], currency: str) -> dict:
    def add(into: dict, line: dict) -> None:
        into["count"] += 1
        into["amount"] += line["amount"]
        into["refunded"] += line["amount_refunded"]
        into["fee"] += line["fee"]
        into["net"] += line["net"]

    def empty() -> dict:
        return {"count": 0, "amount": 0, "refunded": 0, "fee": 0, "net": 0}

    overall = empty()
    by_method: dict[str, dict] = {}
    for line in lines:
        add(overall, line)
        add(by_method.setdefault(line["method"], empty()), line)
    return {"currency": currency, **overall, "by_method": by_method}


def reconciliation_statement(
    *, payment_request, frozen_fees: dict[str, tuple[int, str]] | None = None
) -> dict:
    """The request's lines and totals as its legs stand now.

    A leg's fee is charged on what was captured and is not given back by a refund (as
    acquirers do), so ``net = amount - amount_refunded - fee``. ``frozen_fees`` (leg id to
    (fee, source)) keeps the fee a previous version stated: a rule changed since never
    rewrites it.
    """
    rules = fee_rules_by_method(merchant_id=payment_request.merchant_id)
    frozen = frozen_fees or {}
    lines = []
    for leg in legs_reconciled(payment_request=payment_request):
        if leg.public_id in frozen:
            fee, source = frozen[leg.public_id]
        else:
            fee, source = leg_fee(leg, rules)
        capture = leg_capture_operation(leg)
        lines.append(
            {
                "leg": leg.public_id,
                "checkout": leg.checkout.public_id,
                "participant": leg.checkout.participant.public_id,
                "method": leg.method,
                "provider_reference": leg.provider_reference,
                "operation_reference": capture.operation_reference if capture else "",
                "status": leg.status,
                "currency": leg.currency,
                "amount": leg.amount,
                "amount_refunded": leg.amount_refunded,
                # An installment plan's fee the payer paid in this leg, on top of the share.
                "installment_fee": leg.checkout.fee_amount,
                "fee": fee,
                "fee_source": source,
                "fee_note": leg_fee_note(leg) if source != "provider" else "",
                "card": leg_description(leg) if leg.source_last4 else "",
                "net": leg.amount - leg.amount_refunded - fee,
                "captured_at": capture.created_at.isoformat() if capture else None,
            }
        )
    totals = _totals(lines, payment_request.currency)
    disputes = statement_disputes(payment_request=payment_request)
    if disputes:
        # Only with chargebacks, so a statement without any reads (and compares) as before.
        lost = sum(row["amount"] for row in disputes if row["status"] == Dispute.Status.LOST)
        fees = sum(row["fee"] or 0 for row in disputes)
        totals.update(
            disputed_open=sum(
                row["amount"]
                for row in disputes
                if row["status"] in (Dispute.Status.NEEDS_RESPONSE, Dispute.Status.UNDER_REVIEW)
            ),
            disputed_lost=lost,
            dispute_fees=fees,
            net=totals["net"] - lost - fees,
        )
    return {"lines": lines, "totals": totals, "disputes": disputes}


def statement_disputes(*, payment_request) -> list[dict]:
    """The request's chargebacks as its statement shows them, oldest first: open, won or
    lost (an inquiry moves no money and is left out). A lost one takes its amount off the
    net, and the provider's dispute fee comes off it whatever the outcome."""
    rows = (
        Dispute.objects.filter(
            merchant_id=payment_request.merchant_id,
            livemode=payment_request.livemode,
            leg__checkout__request_id=payment_request.pk,
        )
        .exclude(status__startswith="warning_")
        .select_related("leg__checkout__participant")
        .order_by("created_at", "id")
    )
    return [
        {
            "dispute": dispute.public_id,
            "provider_reference": dispute.provider_reference,
            "leg": dispute.leg.public_id,
            "participant": dispute.leg.checkout.participant.public_id,
            "method": dispute.leg.method,
            "status": dispute.status,
            "currency": dispute.currency,
            "amount": dispute.amount,
            "fee": dispute.fee,
            "net": -(dispute.amount if dispute.status == Dispute.Status.LOST else 0)
            - (dispute.fee or 0),
        }
        for dispute in rows
    ]


def reconciliation_latest(*, payment_request) -> Reconciliation | None:
    return (
        Reconciliation.objects.filter(
            merchant_id=payment_request.merchant_id,
            livemode=payment_request.livemode,
            request_id=payment_request.pk,
        )
        .order_by("-version")
        .first()
    )


def reconciliation_current(*, payment_request) -> dict:
    """What the API, the CSV and the back office show for a request.

    Final with a statement written: its latest version, exactly as announced. Otherwise the
    lines as they stand, ``final`` false while the request still collects (a provisional
    view: the merchant can follow the money before the statement is sent).
    """
    final = payment_request.status in FINAL_STATUSES
    latest = reconciliation_latest(payment_request=payment_request) if final else None
    head = {
        "request": payment_request.public_id,
        "reference": payment_request.reference,
        "request_status": payment_request.status,
        "livemode": payment_request.livemode,
        "final": final,
    }
    if latest is not None:
        return {
            **head,
            "id": latest.public_id,
            "version": latest.version,
            "created_at": latest.created_at.isoformat(),
            "lines": latest.lines,
            "totals": latest.totals,
            "disputes": latest.disputes,
        }
    statement = reconciliation_statement(payment_request=payment_request)
    return {**head, "id": None, "version": None, "created_at": None, **statement}


def reconciliation_get(*, merchant_id: int, public_id: str) -> Reconciliation | None:
    return (
        Reconciliation.objects.select_related("request", "merchant")
        .filter(merchant_id=merchant_id, public_id=public_id)
        .first()
    )


def refund_list(*, merchant: Merchant, livemode: bool, request_public_id: str | None = None):
    """Every refund asked of a provider for the merchant in one mode, newest first: the
    refund rows of the legs' ledger (``LegOperation``), whatever the provider answered."""
    from .models import LegOperation

    refunds = LegOperation.objects.filter(
        merchant=merchant, livemode=livemode, operation=LegOperation.Operation.REFUND
    ).select_related("leg__checkout__request", "leg__checkout__participant")
    if request_public_id is not None:
        refunds = refunds.filter(leg__checkout__request__public_id=request_public_id)
    return refunds


def daily_reconciliation_list(*, merchant: Merchant, livemode: bool):
    return DailyReconciliation.objects.filter(merchant=merchant, livemode=livemode).defer(
        "csv_text"
    )


def daily_reconciliation_get(
    *, merchant: Merchant, livemode: bool, public_id: str
) -> DailyReconciliation | None:
    return DailyReconciliation.objects.filter(
        merchant=merchant, livemode=livemode, public_id=public_id
    ).first()


def reconciliation_methods(*, lines: list[dict], totals: dict) -> list[tuple[str, dict]]:
    """Per-method totals in the order the lines first name each method: PostgreSQL's
    jsonb keeps no key order, and a statement must read the same on every database."""
    by_method = totals["by_method"]
    order = list(dict.fromkeys(line["method"] for line in lines))
    order += sorted(set(by_method) - set(order))
    return [(code, by_method[code]) for code in order if code in by_method]


@dataclass(frozen=True)
class PayerMethod:
    """What the payer page needs to offer one method: the template of the details it
    collects ("" when none: the payer gives them at the provider, or they come from the
    participant), and whether the payer holds a balance there."""

    code: str
    label: str
    fields_template: str
    has_balance: bool
    source_from_participant: bool
    authorises_in_place: bool


def payer_methods_for_request(*, payment_request) -> list[PayerMethod]:
    """The methods a payer of this request may use, balance methods first (the payer
    spends what they hold, then pays the rest), then those that answer at once, then
    those that send the payer away; registry order otherwise."""
    offered = []
    for code in payment_methods_for_request(payment_request=payment_request):
        method = payment_methods_by_code()[code]
        adapter_class = method.adapter_class_for(
            livemode=payment_request.livemode, merchant=payment_request.merchant
        )
        offered.append(
            PayerMethod(
                code=code,
                label=method.label,
                fields_template=adapter_class.payer_fields_template,
                has_balance=adapter_class.has_balance,
                source_from_participant=adapter_class.source_from_participant,
                authorises_in_place=adapter_class.authorises_in_place,
            )
        )
    return sorted(offered, key=lambda m: (not m.has_balance, not m.authorises_in_place))


def payer_method_source(*, participant, method: PayerMethod) -> str:
    """The source of a method whose payer types nothing: the participant's own (a wallet),
    or the method's code when the payer gives their details at the provider (PayPal)."""
    if method.source_from_participant:
        adapter = adapter_for(
            merchant=participant.request.merchant,
            method=method.code,
            livemode=participant.request.livemode,
        )
        return adapter.participant_source(participant)
    return method.code


def payment_source_balance(*, payment_request, method: str, source: str) -> int:
    """What the payer can spend with ``source`` now, in minor units of the request's
    currency. Refuses a method that keeps no balance, or an unknown source, with
    ``InvalidInput``; a provider that does not answer raises ``ProviderError``."""
    if method not in payment_methods_for_request(payment_request=payment_request):
        raise InvalidInput(
            "This payment method is not available.",
            code="payment_method_not_allowed",
            field="method",
        )
    adapter = adapter_for(
        merchant=payment_request.merchant, method=method, livemode=payment_request.livemode
    )
    if not adapter.has_balance:
        raise InvalidInput(
            "This payment method keeps no balance.", code="no_balance", field="method"
        )
    return adapter.balance(source=source, currency=payment_request.currency)


def checkout_waiting(*, participant) -> Checkout | None:
    """The participant's checkout waiting for them at a provider's page (3-D Secure,
    PayPal), if any: their page offers to go on there or to cancel it."""
    return (
        Checkout.objects.filter(participant=participant, status=Checkout.Status.REQUIRES_ACTION)
        .prefetch_related("legs")
        .order_by("-created_at", "-id")
        .first()
    )


def payer_methods_for_participant(*, participant) -> list[PayerMethod]:
    """The methods this payer may use: those of the request, less a method found from the
    participant (a cashback wallet) when they hold none there, or hold nothing spendable."""
    payment_request = participant.request
    offered = []
    for method in payer_methods_for_request(payment_request=payment_request):
        if method.source_from_participant:
            source = payer_method_source(participant=participant, method=method)
            if not source:
                continue
            try:
                spendable = payment_source_balance(
                    payment_request=payment_request, method=method.code, source=source
                )
            except InvalidInput:
                continue
            if spendable <= 0:
                continue
        offered.append(method)
    return offered


def collected_by_day_and_method(
    *, merchant: Merchant, livemode: bool, start, end, tz, currency: str
) -> list[dict]:
    """Money taken from payers, per day (in ``tz``) and payment method, for the dashboard.

    A leg counts on the day its payment was made (the leg's creation; holds captured later
    on completion count on the day they were held), at its full amount: what was collected,
    before any refund. Rows are ``{"day", "method", "amount", "count"}``; one GROUP BY over
    the (merchant, livemode, created_at) index.
    """
    return list(
        Leg.objects.filter(
            merchant=merchant,
            livemode=livemode,
            created_at__gte=start,
            created_at__lt=end,
            currency=currency,
            status__in=Leg.TAKEN,
        )
        .annotate(day=TruncDay("created_at", tzinfo=tz))
        .order_by()
        .values("day", "method")
        .annotate(amount=Sum("amount"), count=Count("id"))
        .order_by("day", "method")
    )


# --- Disputes ---------------------------------------------------------------------------------

from .dispute_models import Dispute  # noqa: E402


def disputes_of_requests(
    *, merchant: Merchant, livemode: bool, request_ids: list[int]
) -> list[Dispute]:
    """Every dispute on these requests' legs, oldest first, with what names them (one
    query): the back office's section and the API's ``disputes[]``."""
    if not request_ids:
        return []
    return list(
        Dispute.objects.filter(
            merchant=merchant, livemode=livemode, leg__checkout__request_id__in=request_ids
        )
        .select_related("leg__checkout__participant", "leg__checkout__request")
        .order_by("created_at", "id")
    )


def dispute_data(dispute: Dispute) -> dict:
    """A dispute as the API shows it (``DisputeSerializer``)."""
    checkout = dispute.leg.checkout
    return {
        "id": dispute.public_id,
        "provider": dispute.provider,
        "provider_reference": dispute.provider_reference,
        "participant": checkout.participant.public_id,
        "checkout": checkout.public_id,
        "leg": dispute.leg.public_id,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "reason": dispute.reason,
        "provider_reason": dispute.raw_reason,
        "status": dispute.status,
        "amount_held": dispute.amount_held,
        "fee": dispute.fee,
        "evidence_due_by": dispute.evidence_due_by,
        "created_at": dispute.created_at,
        "updated_at": dispute.updated_at,
        "closed_at": dispute.closed_at,
    }


def disputes_by_request_and_participant(
    *, merchant: Merchant, livemode: bool, request_ids: list[int]
) -> tuple[dict[int, list[dict]], dict[str, list[dict]]]:
    """The API's disputes keyed by request pk and by participant public id (one query)."""
    by_request: dict[int, list[dict]] = {}
    by_participant: dict[str, list[dict]] = {}
    for dispute in disputes_of_requests(
        merchant=merchant, livemode=livemode, request_ids=request_ids
    ):
        data = dispute_data(dispute)
        by_request.setdefault(dispute.leg.checkout.request_id, []).append(data)
        by_participant.setdefault(data["participant"], []).append(data)
    return by_request, by_participant


def disputed_by_participant(*, disputes: list[Dispute]) -> dict[int, int]:
    """What open or lost chargebacks keep out of reach of a refund, per participant pk."""
    held: dict[int, int] = {}
    for dispute in disputes:
        participant_id = dispute.leg.checkout.participant_id
        held[participant_id] = held.get(participant_id, 0) + dispute.amount_held
    return held
