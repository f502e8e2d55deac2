"""Template tests start from merchants without the shipped templates: they are about the ones
an operator writes, and count, list and name them."""

import pytest

from tests.factories import MerchantFactory


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Alpha Shop", shipped_templates=False)


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Beta Shop", shipped_templates=False)
