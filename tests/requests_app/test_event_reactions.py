"""The event catalogue and its reactions: the only way requests_app's facts reach the apps
downstream, in the transaction when they only touch the database, after commit (and again
and again until they succeed) when they call a provider."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.defaults import STAGES
from payments.adapters.base import ProviderTimeout
from payments.adapters.sandbox_card import SandboxCardAdapter
from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import InvalidInput
from requests_app import services
from requests_app.events import CATALOGUE, event_react, events_redrive, reaction_register
from requests_app.models import PaymentRequest, RequestEvent
from scenarios.models import TIME_TRIGGERS, Trigger
from scenarios.services import DEFAULT_STAGE
from tests.factories import make_request, participants
from tests.payments.conftest import SUCCEEDS

pytestmark = pytest.mark.django_db


def test_the_catalogue_lists_every_event_type_once_with_an_integrator_name():
    assert set(CATALOGUE) == set(RequestEvent.Type.values)
    names = [event.integrator_name for event in CATALOGUE.values()]
    assert len(names) == len(set(names))
    assert all("." in name and name == name.lower() for name in names)
    assert CATALOGUE["request_created"].integrator_name == "payment_request.created"
    assert CATALOGUE["request_completed"].integrator_name == "payment_request.paid"
    assert CATALOGUE["participant_paid"].integrator_name == "participant.paid"
    assert CATALOGUE["payment_failed"].integrator_name == "checkout.failed"
    assert CATALOGUE["installment_failed"].integrator_name == "installment.failed"


def test_every_scenario_trigger_is_fed_by_the_catalogue_and_has_a_default_template():
    fed = {event.trigger for event in CATALOGUE.values() if event.trigger}
    event_triggers = set(Trigger.values) - set(TIME_TRIGGERS) | {Trigger.REQUEST_CREATED}
    assert fed == event_triggers
    for trigger in Trigger.values:
        assert DEFAULT_STAGE[trigger] in STAGES, trigger


def test_a_reaction_to_an_event_not_in_the_catalogue_is_refused():
    with pytest.raises(ValueError, match="catalogue"):
        reaction_register(name="x", handler=print, types=("request_exploded",))


def test_payment_succeeded_is_recorded_before_participant_paid_and_request_completed(
    merchant, tokenise
):
    from payments.services import checkout_start

    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    checkout_start(
        participant=payment_request.participants.get(), method="card", source=tokenise(SUCCEEDS)
    )

    types = list(payment_request.events.order_by("id").values_list("type", flat=True))
    assert types == [
        "request_created",
        "payment_succeeded",
        "participant_paid",
        "request_completed",
        "reconciliation_ready",  # the paid request's statement, in the same transaction
    ]


def test_an_in_transaction_reaction_that_refuses_rolls_the_whole_change_back(merchant):
    with pytest.raises(InvalidInput) as refused:
        make_request(merchant, reference="NOPE", scenario="sc_doesnotexist")

    assert (refused.value.code, refused.value.field) == ("unknown_scenario", "scenario")
    assert not PaymentRequest.objects.filter(reference="NOPE").exists()
    assert not RequestEvent.objects.exists()


def _held(merchant, tokenise):
    """A request whose only share is authorised (held) and not captured."""
    from payments.services import checkout_start

    soon = timezone.now() + timedelta(days=3)
    payment_request = make_request(
        merchant,
        total_amount=2000,
        participants=participants(2, amount=1000),
        capture_mode="on_completion",
        deadline=soon,
        expires_at=soon,
    )
    token = tokenise(SUCCEEDS)
    checkout_start(participant=payment_request.participants.first(), method="card", source=token)
    assert Checkout.objects.get().status == "authorised"
    return payment_request, token


def test_cancelling_releases_holds_after_commit(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    payment_request, token = _held(merchant, tokenise)

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_request_cancel(payment_request=payment_request)

    event = payment_request.events.get(type="request_cancelled")
    assert (event.pending_reactions, event.reactions_pending) == ([], False)
    assert sandbox_card_balance(token=token).held == 0
    assert Checkout.objects.get().status == "cancelled"


def test_a_reaction_lost_between_commit_and_run_is_redriven_by_the_sweep(merchant, tokenise):
    payment_request, token = _held(merchant, tokenise)
    services.payment_request_cancel(payment_request=payment_request)  # on-commit task lost
    event = payment_request.events.get(type="request_cancelled")
    assert event.pending_reactions == ["payments.release_holds"]
    assert events_redrive() == 0  # too fresh: its own task may still be running

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert events_redrive() == 1

    event.refresh_from_db()
    assert (event.pending_reactions, event.reactions_pending) == ([], False)
    assert sandbox_card_balance(token=token).held == 0


def test_a_provider_that_does_not_answer_keeps_the_reaction_pending_until_it_does(
    merchant, tokenise, monkeypatch
):
    payment_request, token = _held(merchant, tokenise)
    services.payment_request_cancel(payment_request=payment_request)
    event = payment_request.events.get(type="request_cancelled")
    real_void = SandboxCardAdapter.void

    def timeout(self, **kwargs):
        raise ProviderTimeout("no answer")

    monkeypatch.setattr(SandboxCardAdapter, "void", timeout)
    assert event_react(event_pk=event.pk) == ["payments.release_holds"]
    assert sandbox_card_balance(token=token).held == 1000

    monkeypatch.setattr(SandboxCardAdapter, "void", real_void)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert events_redrive() == 1

    assert sandbox_card_balance(token=token).held == 0
    assert not RequestEvent.objects.filter(reactions_pending=True).exists()


def test_the_expiry_job_releases_holds_through_the_same_reaction(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    from requests_app.tasks import close_expired_requests

    payment_request, token = _held(merchant, tokenise)
    later = payment_request.expires_at + timedelta(minutes=1)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert close_expired_requests() == 1

    assert sandbox_card_balance(token=token).held == 0
    assert payment_request.events.get(type="request_expired").reactions_pending is False


def test_there_is_one_cancel_and_one_expire():
    import payments.services

    assert not hasattr(payments.services, "payment_request_cancel")
    assert not hasattr(payments.services, "payment_request_close_at_expiry")
