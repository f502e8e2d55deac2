"""How a payer's email and phone are cleaned before anything stores or sends to them.

The API, the services behind the seed command and the back office, the template test-send
and smart-form answers all call these two functions, so a number is the same E.164 string
whichever door it came in through, and a refusal reads the same everywhere. Each caller
turns ``InvalidContact`` into its own error shape (a serializer error, an ``InvalidInput``
with the field at fault, a payer-facing answer message), keeping its ``code``.
"""

from collections.abc import Callable

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from pushpay.errors import InvalidInput

EMAIL_MAX_LENGTH = 254  # RFC 5321's limit on a forward path, and our column's
PHONE_MESSAGE = "Enter the phone number in E.164 format, e.g. +33612345678."
EMAIL_MESSAGE = "Enter a valid email address."


class InvalidContact(ValueError):
    """An email or phone we cannot deliver to; ``code`` is ``invalid_email``/``invalid_phone``,
    the codes the API has always returned for them."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def normalise_phone(raw: object) -> str:
    """``raw`` as E.164 (``+33612345678``), checked against the numbering plan.

    The international prefix is required: no default region is guessed, because a merchant's
    payers live anywhere and "06 12 34 56 78" means different people in different countries.
    Spaces, dots and dashes between the digits are accepted and dropped.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text.startswith("+"):
        raise InvalidContact(PHONE_MESSAGE, code="invalid_phone")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise InvalidContact(PHONE_MESSAGE, code="invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact(PHONE_MESSAGE, code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: object) -> str:
    """``raw`` without surrounding spaces, refused unless it is a deliverable address.

    Case is kept: the local part is the receiving server's business (RFC 5321 §2.4).
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if len(text) > EMAIL_MAX_LENGTH:
        raise InvalidContact(EMAIL_MESSAGE, code="invalid_email")
    try:
        validate_email(text)
    except ValidationError:
        raise InvalidContact(EMAIL_MESSAGE, code="invalid_email") from None
    return text


def email_checked(raw: object, *, field: str, message: str = "") -> str:
    """``normalise_email`` for services: the refusal is an ``InvalidInput`` naming ``field``."""
    return _checked(normalise_email, raw, field=field, message=message)


def phone_checked(raw: object, *, field: str) -> str:
    """``normalise_phone`` for services: the refusal is an ``InvalidInput`` naming ``field``."""
    return _checked(normalise_phone, raw, field=field, message="")


def _checked(normalise: Callable[[object], str], raw: object, *, field: str, message: str) -> str:
    try:
        return normalise(raw)
    except InvalidContact as refusal:
        raise InvalidInput(message or refusal.message, code=refusal.code, field=field) from None
