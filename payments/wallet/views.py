"""Back office pages for cashback wallets: list, detail with the ledger, credit, adjust,
export. Thin: every change goes through ``payments.wallet.services``."""

import csv
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views import View

from pushpay.errors import DomainError, InvalidInput
from pushpay.money import AmountSyntaxError, parse_major_amount
from pushpay.tenancy import MerchantViewMixin, require

from . import selectors, services
from .models import Wallet, WalletTransaction

PAGE_SIZE = 25
EXPORT_LIMIT = 100_000


def _wallet(request: HttpRequest, public_id: str) -> Wallet:
    wallet = selectors.wallet_get(
        merchant=request.merchant, livemode=request.livemode, public_id=public_id
    )
    if wallet is None:
        raise Http404("No such wallet.")
    return wallet


def _amount(request: HttpRequest, wallet: Wallet) -> int:
    try:
        return parse_major_amount(request.POST.get("amount", "").strip(), wallet.currency)
    except AmountSyntaxError as refusal:
        raise InvalidInput(refusal.message, code=refusal.code, field="amount") from None


class WalletListView(MerchantViewMixin, View):
    """Wallets by holder, and the merchant's cashback rule."""

    def get(self, request: HttpRequest) -> HttpResponse:
        holder = request.GET.get("holder", "").strip()[:254]
        wallets = selectors.wallet_list(merchant=request.merchant, livemode=request.livemode)
        if holder:
            wallets = wallets.filter(
                Q(holder_email__icontains=holder) | Q(holder_phone__icontains=holder)
            )
        page = Paginator(wallets, PAGE_SIZE).get_page(request.GET.get("page"))
        rule = selectors.cashback_rule_get(merchant=request.merchant)
        return render(
            request,
            "payments/wallet_list.html",
            {
                "page": page,
                "holder": holder,
                "rule": rule,
                "rate_percent": _percent(rule.rate_bps) if rule else "",
            },
        )


_PERCENT = re.compile(r"(\d{1,3})(?:[.,](\d{1,2}))?")


def _percent(bps: int) -> str:
    return f"{bps // 100}.{bps % 100:02d}".rstrip("0").rstrip(".")


def _basis_points(raw: str) -> int:
    match = _PERCENT.fullmatch(raw.strip())
    if match is None:
        raise InvalidInput(
            "Give the rate as a percentage, e.g. 2.5.", code="invalid_rate", field="rate"
        )
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _whole_number(raw: str, field: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise InvalidInput("Give a whole number of days.", code="invalid_days", field=field)
    return int(raw)


class CashbackRuleView(MerchantViewMixin, View):
    """An operator sets (or switches off) the cashback the merchant gives on card and
    PayPal payments."""

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "wallets.manage")
        currency = request.merchant.default_currency
        try:
            raw_cap = request.POST.get("cap", "").strip()
            cap = None
            if raw_cap:
                try:
                    cap = parse_major_amount(raw_cap, currency)
                except AmountSyntaxError as refusal:
                    raise InvalidInput(refusal.message, code=refusal.code, field="cap") from None
            services.cashback_rule_set(
                merchant=request.merchant,
                rate_bps=_basis_points(request.POST.get("rate", "")),
                cap=cap,
                valid_days=_whole_number(request.POST.get("valid_days", ""), "valid_days"),
                enabled=request.POST.get("enabled") == "on",
            )
        except DomainError as refusal:
            messages.error(request, refusal.localized)
        else:
            messages.success(request, _("The cashback rule is saved."))
        return redirect("wallets:wallet_list")


class WalletCreateView(MerchantViewMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "wallets.manage")
        holder = request.POST.get("holder", "").strip()
        try:
            wallet = services.wallet_create(
                merchant=request.merchant,
                livemode=request.livemode,
                holder_email="" if holder.startswith("+") else holder,
                holder_phone=holder if holder.startswith("+") else "",
            )
        except DomainError as refusal:
            messages.error(request, refusal.localized)
            return redirect("wallets:wallet_list")
        messages.success(request, _("Wallet opened for %(holder)s.") % {"holder": wallet.holder})
        return redirect("wallets:wallet_detail", public_id=wallet.public_id)


class WalletDetailView(MerchantViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        wallet = _wallet(request, public_id)
        kind = request.GET.get("kind", "")
        entries = selectors.wallet_entries(wallet=wallet)
        if kind in WalletTransaction.Kind.values:
            entries = [entry for entry in entries if entry.kind == kind]
        return render(
            request,
            "payments/wallet_detail.html",
            {
                "wallet": wallet,
                "entries": entries,
                "kinds": WalletTransaction.Kind.choices,
                "selected_kind": kind,
                "spendable": services.wallet_spendable(wallet=wallet),
            },
        )


class WalletCreditView(MerchantViewMixin, View):
    """An operator credits goodwill, optionally with an expiry."""

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "wallets.manage")
        wallet = _wallet(request, public_id)
        try:
            services.wallet_credit(
                wallet=wallet,
                amount=_amount(request, wallet),
                reason=request.POST.get("reason", ""),
                expires_at=_expiry(request),
            )
        except DomainError as refusal:
            messages.error(request, refusal.localized)
        else:
            messages.success(request, _("The wallet is credited."))
        return redirect("wallets:wallet_detail", public_id=wallet.public_id)


def _expiry(request: HttpRequest) -> datetime | None:
    """The end of the day the operator picked, in the merchant's time zone."""
    raw = request.POST.get("expires_on", "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput("Give the expiry as a date.", code="invalid_date", field="expires_on")
    zone = ZoneInfo(request.merchant.time_zone)
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=zone)


class WalletAdjustView(MerchantViewMixin, View):
    """An operator corrects a balance up or down, saying why."""

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "wallets.manage")
        wallet = _wallet(request, public_id)
        try:
            amount = _amount(request, wallet)
            if request.POST.get("direction") == "remove":
                amount = -amount
            services.wallet_adjust(
                wallet=wallet, amount=amount, reason=request.POST.get("reason", "")
            )
        except DomainError as refusal:
            messages.error(request, refusal.localized)
        else:
            messages.success(request, _("The wallet is adjusted."))
        return redirect("wallets:wallet_detail", public_id=wallet.public_id)


class WalletExportView(MerchantViewMixin, View):
    """CSV of a wallet's whole ledger, oldest first, one row per entry."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        wallet = _wallet(request, public_id)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{wallet.public_id}-ledger.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "entry_id",
                "created_at",
                "kind",
                "source",
                "currency",
                "available",
                "held",
                "reason",
                "reference",
                "expires_at",
            ]
        )
        entries = selectors.wallet_entries(wallet=wallet, limit=EXPORT_LIMIT)
        for entry in reversed(entries):
            by_account = {p.account: p.amount for p in entry.postings.all()}
            writer.writerow(
                [
                    entry.public_id,
                    entry.created_at.isoformat(),
                    entry.kind,
                    entry.source,
                    entry.currency,
                    by_account.get("available", 0),
                    by_account.get("held", 0),
                    _text(entry.reason),
                    _text(entry.reference),
                    entry.expires_at.isoformat() if entry.expires_at else "",
                ]
            )
        return response


def _text(value: str) -> str:
    """Formula-looking text defused for spreadsheets (CSV injection)."""
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
