"""Reads of forms and submissions, always scoped to one merchant (ARCHITECTURE.md guarantee 5).

Another merchant's object is simply not found: callers turn that into a 404.
"""

from django.db.models import QuerySet

from merchants.models import Merchant

from .models import Form, FormVersion, Submission


def form_list(*, merchant: Merchant, status: str | None = None) -> QuerySet[Form]:
    """Forms with their current version joined in: one query whatever the page size."""
    forms = Form.objects.filter(merchant=merchant).select_related("current_version")
    if status is not None:
        forms = forms.filter(status=status)
    return forms


def form_get(*, merchant: Merchant, public_id: str) -> Form | None:
    return form_list(merchant=merchant).filter(public_id=public_id).first()


def form_version_list(*, merchant: Merchant, form: Form) -> QuerySet[FormVersion]:
    """Every version of a form: a submission or a request may refer to any of them."""
    return FormVersion.objects.select_related("form").filter(form=form, form__merchant=merchant)


def form_version_get(*, merchant: Merchant, form: Form, number: int) -> FormVersion | None:
    """A given version of a form, for a submission made against an older one."""
    return (
        FormVersion.objects.select_related("form")
        .filter(form=form, form__merchant=merchant, number=number)
        .first()
    )


def submission_list(*, merchant: Merchant, form: Form) -> QuerySet[Submission]:
    return Submission.objects.filter(merchant=merchant, form_version__form=form).select_related(
        "form_version", "form_version__form"
    )


def submission_get(*, merchant: Merchant, public_id: str) -> Submission | None:
    return (
        Submission.objects.filter(merchant=merchant, public_id=public_id)
        .select_related("form_version", "form_version__form")
        .first()
    )


def latest_answers_by_participant(*, merchant, participant_ids: list[str]) -> dict[str, dict]:
    """The newest answers of each participant (by public id), in one query whatever their
    number, for the API and back-office pages that list participants."""
    latest: dict[str, dict] = {}
    rows = (
        Submission.objects.filter(merchant=merchant, participant__in=participant_ids)
        .order_by("created_at", "id")
        .values_list("participant", "answers")
    )
    for participant, answers in rows:
        latest[participant] = answers
    return latest
