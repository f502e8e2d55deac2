import pytest

from smartforms import services

from .builders import every_type_fields


@pytest.fixture
def make_form(merchant):
    def make(fields: list[dict] | None = None, *, owner=None, name: str = "Registration"):
        return services.form_create(
            merchant=owner or merchant, name=name, fields=fields or every_type_fields()
        )

    return make
