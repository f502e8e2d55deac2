"""Versions and submissions: what is answered is always read against what was asked."""

import pytest

from pushpay.errors import InvalidInput, StateConflict
from smartforms import selectors, services
from smartforms.models import Form, FormVersion, Submission

from .builders import text_field

ANSWERS = {"company": "Acme", "terms": True}


def submit(form_version, answers=None, **kwargs) -> Submission:
    return services.submission_create(
        form_version=form_version, answers=answers or ANSWERS, language="en", **kwargs
    )


def test_editing_an_unlocked_version_replaces_it_in_place(make_form):
    form = make_form()
    version = form.current_version

    form = services.form_update(form=form, fields=[text_field("nickname")])

    assert form.current_version.pk == version.pk
    assert form.current_version.number == 1
    version.refresh_from_db()
    assert [f["key"] for f in version.fields] == ["nickname"]
    assert FormVersion.objects.filter(form=form).count() == 1


def test_a_submission_locks_its_version_and_the_next_edit_creates_version_two(make_form):
    form = make_form()
    first = form.current_version
    submission = submit(first, participant_public_id="pa_123")

    first.refresh_from_db()
    assert first.is_locked and first.locked_at is not None
    assert submission.public_id.startswith("fs_")
    assert submission.participant == "pa_123"

    form = services.form_update(form=form, fields=[text_field("nickname")])

    assert form.current_version.number == 2
    assert not form.current_version.is_locked
    submission.refresh_from_db()
    assert submission.form_version_id == first.pk
    first.refresh_from_db()
    assert "company" in [f["key"] for f in first.fields]  # version 1 never changes


def test_locking_explicitly_freezes_the_version_for_the_next_edit(make_form):
    form = make_form()
    services.form_version_lock(form_version=form.current_version)
    services.form_version_lock(form_version=form.current_version)  # twice is harmless

    form = services.form_update(form=form, fields=[text_field("nickname")])
    form = services.form_update(form=form, fields=[text_field("nickname", required=True)])

    assert list(form.versions.values_list("number", "is_locked")) == [(1, True), (2, False)]
    assert form.current_version.fields[0]["required"] is True


def test_re_sending_the_same_fields_to_a_locked_version_creates_no_version(make_form):
    form = make_form()
    services.form_version_lock(form_version=form.current_version)

    form = services.form_update(form=form, fields=form.current_version.fields)

    assert form.current_version.number == 1
    assert form.versions.count() == 1


def test_renaming_does_not_create_a_version(make_form):
    form = make_form()
    services.form_version_lock(form_version=form.current_version)

    form = services.form_update(form=form, name="Gala 2030")

    assert form.name == "Gala 2030"
    assert form.current_version.number == 1


def test_a_submission_against_an_older_version_is_checked_against_that_version(make_form):
    form = make_form()
    first = form.current_version
    services.form_version_lock(form_version=first)
    services.form_update(form=form, fields=[text_field("nickname", required=True)])

    submission = submit(first)

    assert submission.form_version.number == 1
    assert submission.answers["company"] == "Acme"


def test_a_refused_submission_records_nothing_and_leaves_the_version_unlocked(make_form):
    form = make_form()

    with pytest.raises(InvalidInput):
        submit(form.current_version, {"company": "Acme"})

    assert not Submission.objects.exists()
    form.current_version.refresh_from_db()
    assert not form.current_version.is_locked


def test_an_archived_form_refuses_submissions_and_edits_but_keeps_its_history(make_form):
    form = make_form()
    submission = submit(form.current_version)

    form = services.form_archive(form=form)
    assert form.status == Form.Status.ARCHIVED and form.archived_at is not None

    with pytest.raises(StateConflict) as caught:
        submit(form.current_version)
    assert caught.value.code == "form_archived"
    with pytest.raises(StateConflict):
        services.form_update(form=form, name="New")
    with pytest.raises(StateConflict):
        services.form_version_lock(form_version=form.current_version)
    assert list(selectors.submission_list(merchant=form.merchant, form=form)) == [submission]
    assert form.versions.count() == 1


def test_archiving_twice_is_harmless(make_form):
    form = services.form_archive(form=make_form())
    archived_at = form.archived_at

    again = services.form_archive(form=form)

    assert again.status == Form.Status.ARCHIVED and again.archived_at == archived_at
