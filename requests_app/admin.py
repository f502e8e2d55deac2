from django.contrib import admin

from .models import CsvJob, Participant, PaymentRequest, StatusChange


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ["public_id", "name", "email", "phone", "amount", "amount_paid", "status"]
    readonly_fields = fields
    can_delete = False


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    extra = 0
    fields = ["created_at", "participant", "from_status", "to_status", "reason"]
    readonly_fields = fields
    can_delete = False


@admin.register(PaymentRequest)
class PaymentRequestAdmin(admin.ModelAdmin):
    """Read-only for superusers: every change must go through requests_app.services."""

    list_display = [
        "public_id",
        "reference",
        "merchant",
        "status",
        "currency",
        "total_amount",
        "amount_paid",
        "created_at",
    ]
    list_filter = ["status", "amount_mode", "merchant"]
    search_fields = ["public_id", "reference", "participants__email"]
    inlines = [ParticipantInline, StatusChangeInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CsvJob)
class CsvJobAdmin(admin.ModelAdmin):
    """Read-only, but deletable: an export's file lives in its row until someone removes it."""

    list_display = ["public_id", "merchant", "livemode", "kind", "status", "total", "created_at"]
    list_filter = ["kind", "status", "livemode"]
    search_fields = ["public_id", "filename", "file_sha256"]
    exclude = ["payload", "result"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
