from rest_framework.pagination import CursorPagination


class NewestFirstPagination(CursorPagination):
    """Cursor pages, newest first: stable under inserts, unlike page numbers."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100
