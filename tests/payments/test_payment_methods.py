"""The registry of payment methods and which ones each merchant offers."""

import pytest

from payments.adapters.base import PaymentMethodAdapter
from payments.adapters.sandbox_card import SandboxCardAdapter
from payments.models import MerchantPaymentMethod
from payments.registry import (
    PaymentMethod,
    adapter_for,
    payment_method_get,
    payment_methods,
    register,
)
from payments.selectors import payment_methods_enabled
from payments.services import payment_method_disable, payment_method_enable
from pushpay.errors import InvalidInput

pytestmark = pytest.mark.django_db


class VoucherAdapter(SandboxCardAdapter):
    code = "test_voucher"
    label = "Test vouchers"


@pytest.fixture
def voucher_method():
    from payments import registry

    method = PaymentMethod(code="test_voucher", label="Test vouchers", adapter_class=VoucherAdapter)
    register(method)
    yield method
    registry._methods.pop("test_voucher")


def test_card_is_served_by_the_sandbox_adapter_bound_to_the_merchant(merchant):
    adapter = adapter_for(merchant=merchant, method="card", livemode=False)

    assert isinstance(adapter, SandboxCardAdapter)
    assert isinstance(adapter, PaymentMethodAdapter)
    assert adapter.merchant == merchant


def test_an_unknown_method_is_refused_with_a_field_error(merchant):
    with pytest.raises(InvalidInput) as refused:
        adapter_for(merchant=merchant, method="cheque", livemode=False)

    assert (refused.value.code, refused.value.field) == ("unknown_payment_method", "method")


def test_a_merchant_with_nothing_configured_offers_cards(merchant):
    assert payment_methods_enabled(merchant=merchant) == ["card"]


def test_a_merchant_can_switch_cards_off_without_affecting_another(merchant, other_merchant):
    payment_method_disable(merchant=merchant, method="card")

    assert payment_methods_enabled(merchant=merchant) == []
    assert payment_methods_enabled(merchant=other_merchant) == ["card"]


def test_switching_a_method_on_again_updates_the_same_row(merchant):
    payment_method_disable(merchant=merchant, method="card")

    payment_method_enable(merchant=merchant, method="card")

    assert payment_methods_enabled(merchant=merchant) == ["card"]
    assert MerchantPaymentMethod.objects.filter(merchant=merchant).count() == 1


def test_a_newly_registered_method_is_off_until_a_merchant_enables_it(
    merchant, other_merchant, voucher_method
):
    assert payment_methods_enabled(merchant=merchant) == ["card"]

    payment_method_enable(merchant=merchant, method="test_voucher")

    assert payment_methods_enabled(merchant=merchant) == ["card", "test_voucher"]
    assert payment_methods_enabled(merchant=other_merchant) == ["card"]
    assert payment_method_get("test_voucher") in payment_methods()
    assert isinstance(
        adapter_for(merchant=merchant, method="test_voucher", livemode=False), VoucherAdapter
    )


def test_enabling_an_unknown_method_is_refused(merchant):
    with pytest.raises(InvalidInput):
        payment_method_enable(merchant=merchant, method="cheque")

    assert not MerchantPaymentMethod.objects.exists()


def test_a_row_for_a_method_no_longer_registered_is_ignored(merchant):
    MerchantPaymentMethod.objects.create(merchant=merchant, method="retired", enabled=True)

    assert payment_methods_enabled(merchant=merchant) == ["card"]


def test_registering_a_different_method_under_a_taken_code_is_refused():
    with pytest.raises(ValueError):
        register(PaymentMethod(code="card", label="Other", adapter_class=VoucherAdapter))


def test_reading_enabled_methods_takes_one_query(merchant, django_assert_num_queries):
    payment_method_enable(merchant=merchant, method="card")

    with django_assert_num_queries(1):
        payment_methods_enabled(merchant=merchant)
