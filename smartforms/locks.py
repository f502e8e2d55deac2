"""Row locks for forms and their versions, always taken in one order: the form, then the
version. Every writer that touches a version (an edit in place, a lock, a submission) holds
the version's row, so an answer is never recorded against fields that change under it. On
SQLite select_for_update is a no-op and IMMEDIATE transactions serialise writers instead.
"""

from .models import Form, FormVersion


def lock_form(form_pk: int) -> Form:
    return Form.objects.select_for_update().get(pk=form_pk)


def lock_form_version(version_pk: int) -> FormVersion:
    return FormVersion.objects.select_for_update().get(pk=version_pk)
