"""Issue 11, one pay service: ``checkout_pay`` checks the payer's legs and answers, stores the
answers and runs the saga; a refusal leaves neither a checkout nor a submission behind."""

import pytest

from payments import services as payment_services
from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import InvalidFields, InvalidInput, StateConflict
from requests_app.models import PaymentRequest
from requests_app.services import ParticipantData
from smartforms.models import Submission
from smartforms.services import form_create
from tests.factories import make_request
from tests.payments.conftest import SUCCEEDS
from tests.requests_app.test_collections import on_completion_request

pytestmark = pytest.mark.django_db

GOOD_ANSWERS = {"company": "Acme", "terms": True}


@pytest.fixture
def form(merchant):
    return form_create(
        merchant=merchant,
        name="Registration",
        fields=[
            {
                "key": "company",
                "type": "text",
                "label": {"en": "Company", "fr": "Société"},
                "required": True,
                "max_length": 20,
            },
            {
                "key": "terms",
                "type": "consent",
                "label": {"en": "I accept the terms", "fr": "J'accepte les conditions"},
                "required": True,
            },
        ],
    )


def card(token, amount=None):
    return {"method": "card", "source": token, "amount": amount}


def nothing_written():
    return not Checkout.objects.exists() and not Submission.objects.exists()


def test_valid_answers_are_stored_and_linked_to_the_checkout_that_pays(merchant, form, tokenise):
    payer = make_request(merchant, form=form).participants.first()
    token = tokenise(SUCCEEDS)

    checkout = payment_services.checkout_pay(
        participant=payer, legs=[card(token)], answers=GOOD_ANSWERS
    )

    assert checkout.status == "succeeded" and checkout.amount == 1000
    submission = Submission.objects.get()
    assert checkout.form_submission == submission.public_id
    assert submission.participant == payer.public_id
    assert submission.answers == {"company": "Acme", "terms": True}
    assert sandbox_card_balance(token=token).debited == 1000


def test_every_wrong_answer_is_refused_at_once_with_no_checkout_and_no_submission(
    merchant, form, tokenise
):
    payer = make_request(merchant, form=form).participants.first()
    token = tokenise(SUCCEEDS)

    with pytest.raises(InvalidFields) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card(token)], answers={"company": "x" * 30}
        )

    assert set(refused.value.errors) == {"answers.company", "answers.terms"}
    assert refused.value.field == "answers.company"  # the first one, for one-error callers
    assert {r.code for r in refused.value.refusals} == {"too_long", "consent_required"}
    assert nothing_written()
    assert sandbox_card_balance(token=token).debited == 0


def test_the_answers_speak_the_payers_language(merchant, form, tokenise):
    payer = make_request(merchant, form=form).participants.first()

    with pytest.raises(InvalidFields) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card(tokenise())], answers=None, language="fr"
        )

    assert "Société" in refused.value.errors["answers.company"]


@pytest.mark.parametrize("answers", [["company"], "Acme", 12])
def test_answers_that_are_not_a_mapping_are_refused(merchant, form, tokenise, answers):
    payer = make_request(merchant, form=form).participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(participant=payer, legs=[card(tokenise())], answers=answers)

    assert refused.value.code == "invalid_answers"
    assert nothing_written()


def test_answers_to_a_request_without_a_form_are_refused(merchant, tokenise):
    payer = make_request(merchant).participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card(tokenise())], answers={"company": "Acme"}
        )

    assert (refused.value.code, refused.value.field) == ("answers_not_expected", "answers")
    assert nothing_written()


def test_the_same_method_twice_is_refused(merchant, tokenise):
    payer = make_request(merchant).participants.first()
    legs = [card(tokenise(), 500), card(tokenise("5555555555554444"), 500)]

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(participant=payer, legs=legs, answers=None)

    assert (refused.value.code, refused.value.field) == ("duplicate_payment_method", "legs")
    assert not Checkout.objects.exists()


def test_more_legs_than_any_payment_may_have_are_refused(merchant, tokenise):
    payer = make_request(merchant).participants.first()
    legs = [card(tokenise(), 100)] * 6

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(participant=payer, legs=legs, answers=None)

    assert (refused.value.code, refused.value.field) == ("too_many_methods", "legs")
    assert nothing_written()


def test_vouchers_and_a_card_pay_through_the_pay_service(merchant, tokenise):
    payment_services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payer = make_request(merchant).participants.first()
    legs = [
        card(tokenise(), 400),
        {"method": "holiday_voucher", "source": "1000000050", "amount": 600},
    ]

    checkout = payment_services.checkout_pay(participant=payer, legs=legs, answers=None)

    assert checkout.status == "succeeded"
    assert sorted(leg.method for leg in checkout.legs.all()) == ["card", "holiday_voucher"]


def test_a_disallowed_combination_is_refused_before_the_answers_are_stored(merchant, tokenise):
    payment_services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payment_services.payment_method_configure(
        merchant=merchant, method="holiday_voucher", combinable_with=[]
    )
    payer = make_request(merchant).participants.first()
    legs = [
        card(tokenise(), 400),
        {"method": "holiday_voucher", "source": "1000000050", "amount": 600},
    ]

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(participant=payer, legs=legs, answers=None)

    assert refused.value.code == "combination_not_allowed"
    assert nothing_written()


@pytest.mark.parametrize(
    "legs",
    [
        [],
        None,
        "card",
        {"method": "card", "source": "tok"},
        ["card"],
        [{"source": "tok"}],
        [{"method": "", "source": "tok"}],
        [{"method": "card" * 20, "source": "tok"}],
        [{"method": 7, "source": "tok"}],
        [{"method": "card", "source": None}],
        [{"method": "card", "source": "tok", "amount": "10.00"}],
        [{"method": "card", "source": "tok", "amount": 10.5}],
        [{"method": "card", "source": "tok", "amount": True}],
        [{"method": "card", "source": "tok", "surprise": 1}],
    ],
)
def test_malformed_legs_are_refused_with_a_code(merchant, legs):
    payer = make_request(merchant).participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(participant=payer, legs=legs, answers=None)

    assert (refused.value.code, refused.value.field) == ("legs_invalid", "legs")
    assert nothing_written()


def test_an_unknown_method_is_refused_before_the_answers_are_stored(merchant, form, tokenise):
    payer = make_request(merchant, form=form).participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(
            participant=payer,
            legs=[{"method": "bitcoin", "source": tokenise()}],
            answers=GOOD_ANSWERS,
        )

    assert (refused.value.code, refused.value.field) == ("unknown_payment_method", "method")
    assert nothing_written()


def test_a_method_the_request_does_not_allow_is_refused_before_the_answers_are_stored(
    merchant, form, tokenise
):
    payment_request = make_request(merchant, form=form)
    PaymentRequest.objects.filter(pk=payment_request.pk).update(allowed_payment_methods=["wallet"])
    payment_request.refresh_from_db()
    payer = payment_request.participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card(tokenise())], answers=GOOD_ANSWERS
        )

    assert refused.value.code == "payment_method_not_allowed"
    assert nothing_written()


def test_a_live_request_refuses_a_sandbox_card_before_the_answers_are_stored(
    merchant, form, tokenise, live_cards
):
    payment_request = make_request(merchant, form=form, livemode=True)
    payer = payment_request.participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card(tokenise())], answers=GOOD_ANSWERS
        )

    assert refused.value.code == "test_source_in_live_mode"
    assert nothing_written()


def test_a_live_request_with_no_live_provider_refuses_before_the_answers_are_stored(merchant, form):
    payment_request = make_request(merchant, form=form)
    PaymentRequest.objects.filter(pk=payment_request.pk).update(livemode=True)
    payment_request.refresh_from_db()
    payer = payment_request.participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card("tok_live_real")], answers=GOOD_ANSWERS
        )

    assert refused.value.code == "payment_method_unavailable"
    assert nothing_written()


@pytest.mark.parametrize(
    ("source", "code"), [("", "source_required"), ("tok_" + "x" * 500, "source_invalid")]
)
def test_missing_or_oversized_payment_details_are_refused_before_anything_is_stored(
    merchant, form, source, code
):
    payer = make_request(merchant, form=form).participants.first()

    with pytest.raises(InvalidInput) as refused:
        payment_services.checkout_pay(participant=payer, legs=[card(source)], answers=GOOD_ANSWERS)

    assert (refused.value.code, refused.value.field) == (code, "source")
    assert nothing_written()


def test_a_paid_share_is_not_paid_again_and_no_answers_are_stored(merchant, form, tokenise):
    payer = make_request(merchant, form=form).participants.first()
    payment_services.checkout_pay(participant=payer, legs=[card(tokenise())], answers=GOOD_ANSWERS)
    payer.refresh_from_db()

    with pytest.raises(StateConflict) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card(tokenise())], answers=GOOD_ANSWERS
        )

    assert refused.value.code == "payment_not_expected"
    assert (Checkout.objects.count(), Submission.objects.count()) == (1, 1)


def test_a_held_share_is_not_held_a_second_time(merchant, tokenise):
    payer = on_completion_request(merchant).participants.first()
    first = tokenise(SUCCEEDS)
    held = payment_services.checkout_pay(participant=payer, legs=[card(first)], answers=None)
    assert held.status == "authorised"

    with pytest.raises(StateConflict) as refused:
        payment_services.checkout_pay(
            participant=payer, legs=[card(tokenise("5555555555554444"))], answers=None
        )

    assert refused.value.code == "payment_held"
    assert Checkout.objects.count() == 1


def test_a_free_amount_leg_pays_that_amount(merchant, tokenise):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        participants=[ParticipantData(name="A", email="a@example.com")],
    )
    payer = pot.participants.get()

    checkout = payment_services.checkout_pay(
        participant=payer, legs=[payment_services.PayLeg("card", tokenise(), 1250)], answers={}
    )

    assert (checkout.status, checkout.amount) == ("succeeded", 1250)
