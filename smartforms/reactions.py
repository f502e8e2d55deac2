"""How smart forms react to request events: a form version a new request names is locked in
the request's own transaction, so what payers see can never change under them."""

from pushpay.errors import InvalidInput, StateConflict
from requests_app.events import reaction_register
from requests_app.models import RequestEvent

from .models import FormVersion
from .services import form_version_lock


def _lock_form_version(event: RequestEvent) -> None:
    version_id = event.request.form_version_id
    if version_id is None:
        return
    version = FormVersion.objects.select_related("form").get(pk=version_id)
    if version.form.merchant_id != event.merchant_id:
        raise InvalidInput("No such form.", code="unknown_form", field="form")
    try:
        form_version_lock(form_version=version)
    except StateConflict as exc:
        raise InvalidInput(exc.message, code=exc.code, field="form") from exc


def register() -> None:
    reaction_register(
        name="smartforms.lock_form_version",
        handler=_lock_form_version,
        types=(RequestEvent.Type.REQUEST_CREATED,),
    )
