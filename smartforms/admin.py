"""Read-only admin: forms change through smartforms.services, never through raw saves."""

from django.contrib import admin

from .models import Form, FormVersion, Submission


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Form)
class FormAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "name", "merchant", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["public_id", "name"]


@admin.register(FormVersion)
class FormVersionAdmin(ReadOnlyAdmin):
    list_display = ["form", "number", "is_locked", "locked_at", "created_at"]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "merchant", "form_version", "participant", "created_at"]
    search_fields = ["public_id", "participant"]
