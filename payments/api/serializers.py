"""Shapes of the reconciliation API, for the OpenAPI schema (the data is built by
``payments.selectors.reconciliation_current``)."""

from rest_framework import serializers


class ReconciliationLineSerializer(serializers.Serializer):
    leg = serializers.CharField(help_text="The leg's id (lg_…).")
    checkout = serializers.CharField()
    participant = serializers.CharField()
    method = serializers.CharField(help_text="card, holiday_voucher, paypal …")
    provider_reference = serializers.CharField(help_text="The provider's payment id.")
    operation_reference = serializers.CharField(help_text="The provider's capture id.")
    status = serializers.CharField(help_text="captured, partially_refunded or refunded.")
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="Captured, in minor units.")
    amount_refunded = serializers.IntegerField(help_text="Given back, in minor units.")
    installment_fee = serializers.IntegerField(
        required=False,
        help_text="The installment plan's fee included in amount (paid on top of the share, "
        "never refunded), in minor units.",
    )
    fee = serializers.IntegerField(help_text="The provider's fee, in minor units.")
    fee_source = serializers.ChoiceField(choices=["provider", "rule", "none"])
    fee_note = serializers.CharField(
        required=False,
        help_text="Why the merchant's fee rule stands in for a provider that reports its "
        "fees (Stripe's balance transaction not there yet, or in another currency).",
    )
    card = serializers.CharField(
        required=False, help_text='The card as the payer knows it ("Visa •••• 4242"), or "".'
    )
    net = serializers.IntegerField(help_text="amount - amount_refunded - fee.")
    captured_at = serializers.DateTimeField(allow_null=True)


class ReconciliationSumsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    amount = serializers.IntegerField()
    refunded = serializers.IntegerField()
    fee = serializers.IntegerField()
    net = serializers.IntegerField()


class ReconciliationTotalsSerializer(ReconciliationSumsSerializer):
    currency = serializers.CharField()
    by_method = serializers.DictField(child=ReconciliationSumsSerializer())
    disputed_open = serializers.IntegerField(
        required=False,
        help_text="Only with chargebacks: what open chargebacks hold, in minor units.",
    )
    disputed_lost = serializers.IntegerField(
        required=False,
        help_text="Only with chargebacks: what lost ones took back (off the net).",
    )
    dispute_fees = serializers.IntegerField(
        required=False,
        help_text="Only with chargebacks: the provider's dispute fees (off the net).",
    )


class ReconciliationDisputeSerializer(serializers.Serializer):
    dispute = serializers.CharField(help_text="Our dispute id (dp_…, as in disputes[]).")
    provider_reference = serializers.CharField(help_text="The provider's dispute id.")
    leg = serializers.CharField()
    participant = serializers.CharField()
    method = serializers.CharField()
    status = serializers.CharField(help_text="needs_response, under_review, won or lost.")
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="Disputed, in minor units.")
    fee = serializers.IntegerField(
        allow_null=True, help_text="The provider's dispute fee; null while none is reported."
    )
    net = serializers.IntegerField(
        help_text="What the dispute takes off the statement's net: -(amount if lost) - fee."
    )


class ReconciliationSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text="rc_…, null until one is written.")
    request = serializers.CharField()
    reference = serializers.CharField()
    request_status = serializers.CharField()
    livemode = serializers.BooleanField()
    final = serializers.BooleanField(
        help_text="False while the request still collects: the lines are provisional."
    )
    version = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    lines = ReconciliationLineSerializer(many=True)
    totals = ReconciliationTotalsSerializer()
    disputes = ReconciliationDisputeSerializer(
        many=True,
        help_text="Chargebacks on the request's legs (inquiries left out); a new version is "
        "written when one opens, moves or closes.",
    )


class DailyReconciliationSerializer(serializers.Serializer):
    """A day's statement without its text; ``download`` is where the CSV is."""

    id = serializers.CharField(source="public_id", help_text="dr_…")
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    day = serializers.DateField(help_text="The day, in the merchant's time zone.")
    row_count = serializers.IntegerField(help_text="Captures and refunds in the CSV.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="Last built (a day may be rebuilt).")
    download = serializers.SerializerMethodField()

    def get_object(self, daily) -> str:
        return "daily_reconciliation"

    def get_download(self, daily) -> str:
        return f"/api/v1/reconciliations/{daily.public_id}/download"


class RefundSerializer(serializers.Serializer):
    """One refund call to a provider for one leg (a request's refund makes one per leg)."""

    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    request = serializers.CharField(source="leg.checkout.request.public_id")
    participant = serializers.CharField(source="leg.checkout.participant.public_id")
    checkout = serializers.CharField(source="leg.checkout.public_id")
    leg = serializers.CharField(source="leg.public_id")
    method = serializers.CharField(source="leg.method")
    currency = serializers.CharField(source="leg.currency")
    amount = serializers.IntegerField(help_text="Asked to give back, in minor units.")
    amount_refunded = serializers.IntegerField(
        source="amount_moved", help_text="Given back by this call, in minor units."
    )
    status = serializers.ChoiceField(
        source="result",
        choices=["succeeded", "failed", "no_answer", "rejected"],
        help_text="succeeded; failed (the provider refused); no_answer (a timeout: the same "
        "refund is asked again with the same idempotency key, a new row); rejected (the "
        "call itself was refused).",
    )
    provider_reference = serializers.CharField(
        source="operation_reference", help_text="The provider's refund id; empty if none."
    )
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_object(self, operation) -> str:
        return "refund"
