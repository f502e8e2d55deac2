"""smartforms owns the forms operators define and the answers payers give to them.

Forms carry numbered versions of their field definitions. A version is rewritten in place
while nobody depends on it; once a submission is recorded against it, or a payment request
names it (``form_version_lock``), it is frozen and the next edit starts a new version. Every
function here is one use case in one transaction, and definitions are checked whole before
anything is written, so a form is never saved half-way.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from merchants.models import Merchant
from pushpay.errors import InvalidFields, InvalidInput, StateConflict

from .definition import fields_check
from .fieldtypes import FIELD_TYPES, AnswerError, collect
from .locks import lock_form, lock_form_version
from .messages import answer_message, pick_language, translated
from .models import Form, FormVersion, Submission

NAME_MAX_LENGTH = 200
PARTICIPANT_ID_MAX_LENGTH = 40

_UNSET: Any = object()


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A form needs a name.", code="required", field="name")
    if len(name.strip()) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"The name is at most {NAME_MAX_LENGTH} characters.", code="too_long", field="name"
        )
    return name.strip()


def _definition_check(name: Any, fields: Any) -> tuple[Any, Any]:
    """The cleaned name and fields (None where not given), or every problem with either in
    one ``InvalidFields``: the name's first, so a caller showing one error shows the same one
    as before."""
    problems: list[InvalidInput] = []
    new_name = collect(problems, _clean_name, name) if name is not _UNSET else None
    definition = None
    if fields is not _UNSET:
        definition, field_problems = fields_check(fields)
        problems.extend(field_problems)
    if problems:
        raise InvalidFields(problems)
    return new_name, definition


def _refuse_archived(form: Form) -> None:
    if not form.is_active:
        raise StateConflict(
            "This form is archived: it can no longer be changed or used.",
            code="form_archived",
            field="status",
        )


def _transition(form: Form, target: str) -> bool:
    """Move ``form`` to ``target``; False when it is already there (retries are harmless)."""
    current = form.status
    if current == target:
        return False
    if target not in Form.TRANSITIONS[current]:
        raise StateConflict(
            f"A {current} form cannot become {target}.",
            code="invalid_status_transition",
            field="status",
        )
    form.status = target
    return True


# --- Forms ----------------------------------------------------------------------------------


def form_create(*, merchant: Merchant, name: str, fields: list[dict]) -> Form:
    """Create a form and its first, still unlocked, version."""
    name, definition = _definition_check(name, fields)
    with transaction.atomic():
        form = Form.objects.create(merchant=merchant, name=name)
        version = FormVersion.objects.create(form=form, number=1, fields=definition)
        form.current_version = version
        form.save(update_fields=["current_version", "updated_at"])
    return form


def form_update(*, form: Form, name: str = _UNSET, fields: list[dict] = _UNSET) -> Form:
    """Rename a form and/or replace its fields, following the versioning rule.

    Fields identical to the current version change nothing, so re-sending a whole form does
    not mint versions.
    """
    new_name, definition = _definition_check(name, fields)
    with transaction.atomic():
        form = lock_form(form.pk)
        _refuse_archived(form)
        changed: list[str] = []
        if new_name is not None and new_name != form.name:
            form.name = new_name
            changed.append("name")
        if definition is not None:
            current = lock_form_version(form.current_version_id)
            if definition != current.fields:
                if current.is_locked:
                    current = FormVersion.objects.create(
                        form=form, number=current.number + 1, fields=definition
                    )
                    changed.append("current_version")
                else:
                    current.fields = definition
                    current.save(update_fields=["fields", "updated_at"])
                    changed.append("updated_at")
            form.current_version = current
        if changed:
            form.save(update_fields=sorted({*changed, "updated_at"}))
    return form


def form_archive(*, form: Form) -> Form:
    """Stop a form from taking new answers; its versions and submissions stay readable."""
    with transaction.atomic():
        form = lock_form(form.pk)
        if _transition(form, Form.Status.ARCHIVED):
            form.archived_at = timezone.now()
            form.save(update_fields=["status", "archived_at", "updated_at"])
    return form


def form_version_lock(*, form_version: FormVersion) -> FormVersion:
    """Freeze a version because something now depends on it (a payment request names it).

    Locking twice is harmless. An archived form cannot be handed to new payers, so it is
    refused here rather than left for the payer to discover.
    """
    with transaction.atomic():
        form = lock_form(form_version.form_id)
        _refuse_archived(form)
        version = lock_form_version(form_version.pk)
        _lock(version)
    return version


def _lock(version: FormVersion) -> None:
    if not version.is_locked:
        version.is_locked = True
        version.locked_at = timezone.now()
        version.save(update_fields=["is_locked", "locked_at", "updated_at"])


# --- Submissions ----------------------------------------------------------------------------


def submission_validate(*, form_version: FormVersion, answers: Any, language: str) -> dict:
    """Clean a payer's answers against one version, or refuse the first wrong one.

    Writes nothing, so the API's dry run and the payer page share it. The result holds every
    field of the version: missing optional answers become None ([] for multiple choice,
    False for consent), so readers never need to know which keys were sent.
    """
    cleaned, refusals = _answers_check(form_version, answers, language)
    if refusals:
        raise refusals[0]
    return cleaned


def submission_errors(*, form_version: FormVersion, answers: Any, language: str) -> dict[str, str]:
    """Every wrong answer at once, field key to message ({} when all are right).

    The payer page flags each invalid field in one round trip, where the API keeps its one
    error per response; both come from the same checks, so they never disagree.
    """
    refusals = submission_refusals(form_version=form_version, answers=answers, language=language)
    return {exc.field.removeprefix("answers."): exc.message for exc in refusals}


def submission_refusals(
    *, form_version: FormVersion, answers: Any, language: str
) -> list[InvalidInput]:
    """Every wrong answer at once as the refusals themselves (code, field ``answers.<key>``,
    message), for a service that refuses them all in one ``InvalidFields``."""
    _, refusals = _answers_check(form_version, answers, language)
    return refusals


def _answers_check(
    form_version: FormVersion, answers: Any, language: str
) -> tuple[dict[str, Any], list[InvalidInput]]:
    """The cleaned answers and every refusal, in field order (unknown keys first)."""
    language = pick_language(language)
    if not isinstance(answers, dict):
        refusal = InvalidInput(
            answer_message("invalid_answers", language), code="invalid_answers", field="answers"
        )
        return {}, [refusal]
    fields = form_version.fields
    known = {field["key"] for field in fields}
    refusals: list[InvalidInput] = []
    for unknown in sorted(str(key) for key in answers if key not in known):
        key = unknown[:50]
        refusals.append(
            InvalidInput(
                answer_message("unknown_answer", language, key=key),
                code="unknown_answer",
                field=f"answers.{key}",
            )
        )
    cleaned: dict[str, Any] = {}
    for field in fields:
        key = field["key"]
        kind = FIELD_TYPES[field["type"]]
        value = answers.get(key)
        try:
            if kind.is_missing(field, value):
                if field["required"]:
                    raise AnswerError(kind.missing_code(field))
                cleaned[key] = kind.empty_answer(field)
            else:
                cleaned[key] = kind.clean_answer(field, value)
        except AnswerError as exc:
            label = translated(field["label"], language)
            refusals.append(
                InvalidInput(
                    answer_message(exc.code, language, label=label, **exc.params),
                    code=exc.code,
                    field=f"answers.{key}",
                )
            )
    return cleaned, refusals


def submission_dry_run(*, form_version: FormVersion, answers: Any, language: str) -> dict:
    """What ``submission_create`` would store, without storing it or locking the version."""
    if not form_version.form.is_active:
        raise StateConflict(
            "This form is archived and no longer accepts answers.",
            code="form_archived",
            field="form",
        )
    return submission_validate(form_version=form_version, answers=answers, language=language)


def submission_create(
    *,
    form_version: FormVersion,
    answers: dict,
    language: str,
    participant_public_id: str = "",
) -> Submission:
    """Record a payer's answers against the version they were shown, and freeze it."""
    if (
        not isinstance(participant_public_id, str)
        or len(participant_public_id) > PARTICIPANT_ID_MAX_LENGTH
    ):
        raise InvalidInput(
            "participant must be a participant's public id.",
            code="invalid_participant",
            field="participant",
        )
    with transaction.atomic():
        form = lock_form(form_version.form_id)
        if not form.is_active:
            raise StateConflict(
                "This form is archived and no longer accepts answers.",
                code="form_archived",
                field="form",
            )
        # Validate against the locked row: an edit in place cannot slip in between.
        version = lock_form_version(form_version.pk)
        cleaned = submission_validate(form_version=version, answers=answers, language=language)
        _lock(version)
        submission = Submission.objects.create(
            merchant_id=form.merchant_id,
            form_version=version,
            answers=cleaned,
            language=pick_language(language),
            participant=participant_public_id,
        )
    return submission
