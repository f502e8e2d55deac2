from django.contrib import admin

from .models import ApiKey, Membership, Merchant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "public_id", "default_currency", "default_language"]
    search_fields = ["name", "slug", "public_id"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "merchant", "mode", "last_used_at", "revoked_at"]
    list_filter = ["mode"]
    readonly_fields = ["prefix", "secret_hash", "last_used_at", "created_by"]
