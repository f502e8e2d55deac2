"""Errors that services raise; the API and the back office turn them into messages.

Services know nothing of HTTP, but every refusal carries a machine code and the field at
fault so that each caller can show one clear message (ARCHITECTURE.md guarantee 6).
"""


class DomainError(Exception):
    """Base for refusals from a service. ``http_status`` is a hint for the API layer."""

    http_status = 422

    def __init__(self, message: str, *, code: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class InvalidInput(DomainError):
    """The values make no sense together (shares that do not sum, a deadline in the past)."""

    http_status = 422


class StateConflict(DomainError):
    """The object's current state forbids the action (cancel a paid request)."""

    http_status = 409


class DoesNotExist(DomainError):
    """The object does not exist for this merchant (or belongs to another one)."""

    http_status = 404


class InvalidFields(InvalidInput):
    """Several values are wrong at once (a payer's answers): a page flags every field in one
    round trip, where a single refusal would make the payer fix them one by one.

    ``code``, ``message`` and ``field`` are the first refusal's, so a caller that shows one
    error still shows a true one; ``refusals`` keeps every one, in field order.
    """

    def __init__(self, refusals: list[InvalidInput]):
        if not refusals:
            raise ValueError("InvalidFields needs at least one refusal.")
        first = refusals[0]
        super().__init__(first.message, code=first.code, field=first.field)
        self.refusals = list(refusals)

    @property
    def errors(self) -> dict[str, str]:
        """Field path (``answers.company``) to its message."""
        return {refusal.field or "": refusal.message for refusal in self.refusals}
