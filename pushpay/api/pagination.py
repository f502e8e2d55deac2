from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from .errors import ApiError


class NewestFirstPagination(CursorPagination):
    """Cursor pages, newest first: stable under inserts, unlike page numbers."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with a 404, as if the list did not exist; it is
        # a malformed query parameter like any other.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ApiError(
                "The cursor is not one this API gave out; use the next or previous link.",
                code="invalid_cursor",
                field="cursor",
            ) from None
