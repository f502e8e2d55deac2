"""Errors that services raise; the API and the back office turn them into messages.

Services know nothing of HTTP, but every refusal carries a machine code and the field at
fault so that each caller can show one clear message (ARCHITECTURE.md guarantee 6).
"""


class DomainError(Exception):
    """Base for refusals from a service. ``http_status`` is a hint for the API layer.

    Two readers, two languages. ``message`` is the English text the API has always
    returned: integrators match on ``code`` and log ``message``, so it never changes with
    the caller's ``Accept-Language``. ``localized`` is the same refusal in the active
    language, for an operator's form: the English text (before ``params`` fill it in) is
    the msgid of the French catalogue, so a service raises
    ``InvalidInput("%(email)s is already a member.", params={"email": email}, ...)`` and
    both readers get their sentence. A message nobody translated reads in English in both.
    """

    http_status = 422

    def __init__(
        self,
        message: str,
        *,
        code: str,
        field: str | None = None,
        params: dict | None = None,
    ):
        self.template = str(message)
        self.params = dict(params or {})
        self.message = self.template % self.params if self.params else self.template
        super().__init__(self.message)
        self.code = code
        self.field = field

    @property
    def localized(self) -> str:
        """The message in the active language (the back office's), ``message`` when the
        catalogue has no translation or the translation does not fit the params."""
        from django.utils.translation import gettext

        text = gettext(self.template)
        if not self.params:
            return text
        try:
            return text % self.params
        except (KeyError, TypeError, ValueError):
            return self.message


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
        super().__init__(first.template, code=first.code, field=first.field, params=first.params)
        self.refusals = list(refusals)

    @property
    def errors(self) -> dict[str, str]:
        """Field path (``answers.company``) to its message."""
        return {refusal.field or "": refusal.message for refusal in self.refusals}

    @property
    def localized_errors(self) -> dict[str, str]:
        """``errors`` in the active language, for a page."""
        return {refusal.field or "": refusal.localized for refusal in self.refusals}
