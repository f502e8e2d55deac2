"""notifications owns what merchants send: message templates (for now), later the channels,
the delivery log and webhooks.

A template is checked whole before anything is written: every field, every language, through
the sandbox in ``notifications.rendering``. A refusal names the field and language
(``body_html.fr``) and the line, so an operator's invalid template is never saved half-way
(ARCHITECTURE.md guarantee 6).
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from merchants.models import Merchant
from pushpay.contact import email_checked, phone_checked
from pushpay.errors import InvalidInput, StateConflict
from pushpay.i18n import LANGUAGE_CODES, language_checked
from pushpay.money import is_currency

from .defaults import DEFAULT_TEMPLATES, default_name
from .models import Dispatch, MessageTemplate
from .rendering import (
    MessageData,
    RenderedMessage,
    check_source,
    render_message,
    sample_message_data,
)

NAME_MAX_LENGTH = 100
MAX_LENGTHS = {"subject": 250, "body_text": 20_000, "body_html": 100_000}
SMS_MAX_LENGTH = 1_600  # ten concatenated GSM-7 segments; carriers cap around there

_UNSET: Any = object()

logger = logging.getLogger(__name__)


# --- Validation -----------------------------------------------------------------------------


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A template needs a name.", code="required", field="name")
    name = name.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"A name is at most {NAME_MAX_LENGTH} characters.", code="too_long", field="name"
        )
    return name


def _present(value: Any) -> dict:
    """The languages actually given: blank or null texts count as left out."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return value  # refused with a clear message by _clean_localized
    return {key: text for key, text in value.items() if not (text is None or text == "")}


def _clean_localized(value: Any, *, field: str, required: bool, max_length: int) -> dict:
    value = _present(value)
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f'{field} must be an object such as {{"fr": "…", "en": "…"}}.',
            code="invalid_type",
            field=field,
        )
    unknown = sorted(set(value) - set(LANGUAGE_CODES))
    if unknown:
        raise InvalidInput(
            f"Unknown language '{unknown[0]}'; use 'fr' or 'en'.",
            code="unknown_language",
            field=f"{field}.{unknown[0]}",
        )
    cleaned = {}
    for language in LANGUAGE_CODES:
        if language not in value:
            continue
        text, path = value[language], f"{field}.{language}"
        if not isinstance(text, str):
            raise InvalidInput("A template is a string.", code="invalid_type", field=path)
        if not text.strip():
            continue
        if len(text) > max_length:
            raise InvalidInput(
                f"This text is {len(text)} characters long; the limit is {max_length}.",
                code="template_too_long",
                field=path,
            )
        check_source(text, field=path)
        cleaned[language] = text
    if required and not cleaned:
        raise InvalidInput(
            f"{field} needs a French or an English text (the other falls back to it).",
            code="required",
            field=field,
        )
    return cleaned


def _clean_fields(*, channel: str, subject: Any, body_text: Any, body_html: Any) -> dict:
    """Every field and language of a template, checked before any of them is written."""
    if channel not in MessageTemplate.Channel.values:
        raise InvalidInput(
            "channel must be 'email' or 'sms'.", code="invalid_choice", field="channel"
        )
    if channel == MessageTemplate.Channel.SMS:
        for name, value in (("subject", subject), ("body_html", body_html)):
            if _present(value):
                raise InvalidInput(
                    f"An SMS template has no {name}; put the message in body_text.",
                    code="not_allowed_for_sms",
                    field=name,
                )
        return {
            "subject": {},
            "body_text": _clean_localized(
                body_text, field="body_text", required=True, max_length=SMS_MAX_LENGTH
            ),
            "body_html": {},
        }
    return {
        "subject": _clean_localized(
            subject, field="subject", required=True, max_length=MAX_LENGTHS["subject"]
        ),
        "body_text": _clean_localized(
            body_text, field="body_text", required=True, max_length=MAX_LENGTHS["body_text"]
        ),
        "body_html": _clean_localized(
            body_html, field="body_html", required=False, max_length=MAX_LENGTHS["body_html"]
        ),
    }


def _duplicate_name(name: str) -> StateConflict:
    return StateConflict(
        f"A template named '{name}' already exists.", code="duplicate_name", field="name"
    )


# --- Use cases ------------------------------------------------------------------------------


def template_create(
    *,
    merchant: Merchant,
    name: str,
    channel: str,
    body_text: Mapping[str, str],
    subject: Mapping[str, str] | None = None,
    body_html: Mapping[str, str] | None = None,
) -> MessageTemplate:
    """Check a whole template, then store it; a language left out falls back to the other."""
    name = _clean_name(name)
    fields = _clean_fields(
        channel=channel, subject=subject, body_text=body_text, body_html=body_html
    )
    try:
        with transaction.atomic():
            return MessageTemplate.objects.create(
                merchant=merchant, name=name, channel=channel, **fields
            )
    except IntegrityError as exc:
        if MessageTemplate.objects.filter(merchant=merchant, name=name).exists():
            raise _duplicate_name(name) from exc
        raise


def template_update(
    *,
    template: MessageTemplate,
    name: str = _UNSET,
    subject: Mapping[str, str] | None = _UNSET,
    body_text: Mapping[str, str] = _UNSET,
    body_html: Mapping[str, str] | None = _UNSET,
    is_archived: bool = _UNSET,
) -> MessageTemplate:
    """Replace the given fields (each one whole, both languages at once); the channel stays."""
    with transaction.atomic():
        template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        new_name = template.name if name is _UNSET else _clean_name(name)
        fields = _clean_fields(
            channel=template.channel,
            subject=template.subject if subject is _UNSET else subject,
            body_text=template.body_text if body_text is _UNSET else body_text,
            body_html=template.body_html if body_html is _UNSET else body_html,
        )
        template.name = new_name
        for key, value in fields.items():
            setattr(template, key, value)
        if is_archived is not _UNSET:
            template.is_archived = bool(is_archived)
        try:
            with transaction.atomic():
                template.save()
        except IntegrityError as exc:
            raise _duplicate_name(new_name) from exc
    return template


def _set_archived(template: MessageTemplate, archived: bool) -> MessageTemplate:
    with transaction.atomic():
        template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        if template.is_archived != archived:
            template.is_archived = archived
            template.save(update_fields=["is_archived", "updated_at"])
    return template


def template_archive(*, template: MessageTemplate) -> MessageTemplate:
    """Hide a template from new scenario steps; kept so past deliveries still name it."""
    return _set_archived(template, True)


def template_restore(*, template: MessageTemplate) -> MessageTemplate:
    return _set_archived(template, False)


def template_preview(
    *,
    template: MessageTemplate,
    data: MessageData | None = None,
    languages: Iterable[str] = LANGUAGE_CODES,
) -> dict[str, RenderedMessage]:
    """Render a template as a payer would receive it, with sample values unless given data."""
    merchant = template.merchant
    if data is None:
        data = sample_message_data(
            merchant_name=merchant.name,
            currency=merchant.default_currency,
            time_zone=merchant.time_zone,
        )
    if not is_currency(data.currency):
        raise InvalidInput(
            f"'{data.currency}' is not an ISO 4217 currency in use.",
            code="unknown_currency",
            field="currency",
        )
    return {
        language: render_message(template=template, language=language, data=data)
        for language in languages
    }


def template_install_defaults(
    *, merchant: Merchant, stages: Iterable[str] | None = None
) -> list[MessageTemplate]:
    """Give a merchant the shipped templates; running it again adds only what is missing.

    A default already installed is left as the merchant edited it (even archived). If the
    merchant already uses a default's name for a template of their own, the default gets a
    suffixed name instead of taking it over.
    """
    wanted = list(stages) if stages is not None else list(DEFAULT_TEMPLATES)
    unknown = [stage for stage in wanted if stage not in DEFAULT_TEMPLATES]
    if unknown:
        raise InvalidInput(f"Unknown stage '{unknown[0]}'.", code="unknown_stage", field="stages")
    installed = []
    for stage in wanted:
        for channel, texts in DEFAULT_TEMPLATES[stage].items():
            installed.append(_install_one(merchant, stage, channel, texts))
    return installed


def _install_one(merchant: Merchant, stage: str, channel: str, texts: dict) -> MessageTemplate:
    existing = MessageTemplate.objects.filter(
        merchant=merchant, default_stage=stage, channel=channel
    ).first()
    if existing is not None:
        return existing
    fields = _clean_fields(
        channel=channel,
        subject=texts.get("subject"),
        body_text=texts["body_text"],
        body_html=texts.get("body_html"),
    )
    base = default_name(stage, channel)
    taken = set(
        MessageTemplate.objects.filter(merchant=merchant, name__startswith=base).values_list(
            "name", flat=True
        )
    )
    name = base
    suffix = 1
    while name in taken:
        suffix += 1
        name = f"{base} {suffix}"
    try:
        with transaction.atomic():
            return MessageTemplate.objects.create(
                merchant=merchant, name=name, channel=channel, default_stage=stage, **fields
            )
    except IntegrityError:
        # A concurrent install won the race; its row is as good as ours.
        existing = MessageTemplate.objects.filter(
            merchant=merchant, default_stage=stage, channel=channel
        ).first()
        if existing is None:
            raise
        return existing


# --- Test sends -----------------------------------------------------------------------------

TEST_SUBJECT_PREFIX = "[Test] "
TEST_EMAIL_REFUSED = "A test email needs a valid address; add one to your login."


def template_send_test(*, template: MessageTemplate, to: str, language: str) -> RenderedMessage:
    """Send one message rendered with sample values, so an operator sees the real thing.

    It goes through the configured channels (``EMAIL_BACKEND``, ``SMS_BACKEND``) like a
    scenario's message, so in the embedded default it lands in the local outbox, and with real
    providers in the operator's mailbox or phone. It is not a dispatch: nothing is planned or
    retried, and a failure is reported at once. The subject says it is a test, so nobody
    mistakes it for a payer's message.
    """
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives, get_connection

    from .channels import OutgoingMessage, TransportError, transport_for

    language_checked(language, field="language")
    if template.channel == MessageTemplate.Channel.SMS:
        to = phone_checked(to, field="to")
    else:  # the address comes from the operator's login: say where to fix it
        to = email_checked(to, field="to", message=TEST_EMAIL_REFUSED)
    rendered = template_preview(template=template, languages=[language])[language]
    # Slow I/O below: no transaction is open, and none is needed (nothing of ours changes,
    # except the outbox row that the local backends write on their own).
    try:
        if template.channel == MessageTemplate.Channel.SMS:
            transport_for("sms").send(
                OutgoingMessage(
                    message_id="", merchant_id=template.merchant_id, to=to, text=rendered.text
                )
            )
        else:
            email = EmailMultiAlternatives(
                subject=TEST_SUBJECT_PREFIX + (rendered.subject or ""),
                body=rendered.text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[to],
                connection=get_connection(fail_silently=False),
            )
            if rendered.html:
                email.attach_alternative(rendered.html, "text/html")
            # Read by the outbox backend, so the back office shows it under this merchant.
            email.pushpay_merchant_id = template.merchant_id
            if not email.send():
                raise TransportError("the email backend accepted no message")
    except TransportError as exc:
        raise StateConflict(
            f"The test was not sent: {exc.message}", code="send_failed", field="to"
        ) from exc
    except Exception as exc:  # SMTP and ESP errors come in many classes; all mean "not sent"
        raise StateConflict(
            f"The test was not sent: {exc.__class__.__name__}: {exc}",
            code="send_failed",
            field="to",
        ) from exc
    return rendered


# --- The outbox -----------------------------------------------------------------------------


def outbox_enqueue(
    *,
    kind: str,
    merchant_id: int,
    livemode: bool,
    channel: str,
    recipient: str,
    dedupe_key: str,
    language: str = "fr",
    request_id: int | None = None,
    participant_id: int | None = None,
    source_id: str = "",
) -> bool:
    """Add one message of ``kind`` to the outbox, due now, in the caller's transaction.

    The producer's dedupe key makes it once only: enqueueing the same key again (a retried
    booking, a replayed task) writes nothing and returns False.
    """
    now = timezone.now()
    row = Dispatch(
        kind=kind,
        merchant_id=merchant_id,
        livemode=livemode,
        channel=channel,
        recipient=recipient,
        language=language,
        request_id=request_id,
        participant_id=participant_id,
        source_id=source_id,
        due_at=now,
        next_attempt_at=now,
        dedupe_key=dedupe_key,
    )
    if Dispatch.objects.filter(dedupe_key=dedupe_key).exists():
        return False
    Dispatch.objects.bulk_create([row], ignore_conflicts=True)
    outbox_nudge_on_commit([row])
    return True


def outbox_nudge_on_commit(rows: list[Dispatch]) -> None:
    """Hand rows due now to django-q2 once the transaction commits, for latency only: the
    every-minute sweep is what guarantees they go out (a lost task only delays them)."""
    horizon = timezone.now() + timedelta(seconds=5)
    if not any(r.status == Dispatch.Status.PLANNED and r.due_at <= horizon for r in rows):
        return
    transaction.on_commit(_enqueue_sweep)


def _enqueue_sweep() -> None:
    if not getattr(settings, "SCENARIOS_ENQUEUE_ON_COMMIT", True):
        return
    try:
        from django_q.tasks import async_task

        async_task("notifications.tasks.dispatch_due", q_options={"group": "notifications"})
    except Exception:  # a broker hiccup only delays: the sweep finds the rows anyway
        logger.warning("Could not enqueue the notification sweep", exc_info=True)


def dispatch_record_delivery_status(*, channel: str, provider_message_id: str, status: str) -> int:
    """Keep what a provider later says about a message it accepted (delivered, bounced…)."""
    if not provider_message_id:
        return 0
    return Dispatch.objects.filter(channel=channel, provider_message_id=provider_message_id).update(
        delivery_status=status[:20], updated_at=timezone.now()
    )
