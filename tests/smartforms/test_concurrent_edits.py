"""Concurrent writers on one form, on PostgreSQL where row locks are real."""

import threading

import pytest
from django.db import connection

from pushpay.errors import InvalidInput
from smartforms import services
from smartforms.models import FormVersion, Submission

from .builders import every_type_fields, text_field

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(*calls) -> list:
    """Start every call at once; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_edits_of_a_locked_version_create_one_next_version(postgres_only, merchant):
    form = services.form_create(merchant=merchant, name="F", fields=every_type_fields())
    services.form_version_lock(form_version=form.current_version)

    outcomes = run_together(
        lambda: services.form_update(form=form, fields=[text_field("a")]),
        lambda: services.form_update(form=form, fields=[text_field("b")]),
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert list(FormVersion.objects.filter(form=form).values_list("number", flat=True)) == [1, 2]


def test_a_submission_and_an_edit_in_place_never_mix_versions(postgres_only, merchant):
    form = services.form_create(merchant=merchant, name="F", fields=every_type_fields())
    version = form.current_version

    outcomes = run_together(
        lambda: services.submission_create(
            form_version=version, answers={"company": "Acme", "terms": True}, language="en"
        ),
        lambda: services.form_update(form=form, fields=[text_field("a")]),
    )

    submitted, edited = outcomes
    assert not isinstance(edited, Exception), edited
    if isinstance(submitted, Exception):
        # The edit won: the answers were checked against the new questions and refused.
        assert isinstance(submitted, InvalidInput) and submitted.code == "unknown_answer"
        assert not Submission.objects.exists()
        assert FormVersion.objects.filter(form=form).count() == 1
    else:
        # The submission won: it froze version 1, so the edit became version 2.
        submitted.form_version.refresh_from_db()
        assert submitted.form_version.number == 1 and submitted.form_version.is_locked
        assert "company" in [f["key"] for f in submitted.form_version.fields]
        assert edited.current_version.number == 2
