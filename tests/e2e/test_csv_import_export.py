"""An agent, in French, imports 20 requests from a CSV file with two bad rows: every error is
shown by line and column and nothing is created; the fixed file is checked, confirmed and
created; then the list is exported. Every page passes axe-core."""

import csv
import io

import pytest
from playwright.sync_api import expect

from merchants.models import OperatorPreference
from requests_app.models import PaymentRequest
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_small_screens import speaks
from tests.factories import MembershipFactory, MerchantFactory
from tests.requests_app.test_csv_import_export import _import_file

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Alpha Shop")


def test_an_agent_imports_a_file_fixes_two_rows_and_exports_the_list(
    page, live_server, merchant, screenshot, axe_check, tmp_path
):
    agent = MembershipFactory(merchant=merchant, role="agent").user
    OperatorPreference.objects.create(user=agent, language="fr")
    bad, fixed = tmp_path / "demandes.csv", tmp_path / "demandes-corrigees.csv"
    bad.write_text(_import_file(20, bad=(4, 17)), encoding="utf-8")
    fixed.write_text(_import_file(20), encoding="utf-8")
    log_in(page, live_server, agent)
    speaks(page, "fr")

    page.get_by_role("link", name="Importer un CSV").click()
    expect(
        page.get_by_role("heading", name="Importer des demandes depuis un fichier CSV")
    ).to_be_visible()
    axe_check()
    page.get_by_label("Fichier CSV").set_input_files(str(bad))
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.get_by_test_id("import-invalid")).to_contain_text("Corrigez le fichier")
    errors = page.get_by_test_id("job-errors")
    expect(errors.get_by_role("row").filter(has_text="participant_email")).to_have_count(2)
    expect(errors.get_by_role("row").filter(has_text="8")).not_to_have_count(0)
    screenshot("csv-import-errors-fr")
    axe_check()
    assert PaymentRequest.objects.count() == 0

    page.get_by_role("link", name="Envoyer un fichier corrigé").click()
    page.get_by_label("Fichier CSV").set_input_files(str(fixed))
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.get_by_test_id("import-ready")).to_contain_text("20 demandes sont prêtes")
    axe_check()
    page.get_by_role("button", name="Créer les demandes").click()
    expect(page.get_by_test_id("import-done")).to_contain_text("20 demandes créées")
    screenshot("csv-import-done-fr")
    axe_check()
    assert PaymentRequest.objects.filter(merchant=merchant).count() == 20

    page.get_by_role("link", name="Voir les demandes").click()
    page.get_by_role("searchbox", name="Rechercher").fill("IMP-1")
    page.get_by_role("button", name="Filtrer").click()
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    screenshot("csv-export-list-fr")
    axe_check()
    text = download.value.path().read_text(encoding="utf-8-sig")
    references = sorted(row["reference"] for row in csv.DictReader(io.StringIO(text)))
    # IMP-1 and IMP-10 to IMP-19: every match, the search's filter applied.
    assert references == sorted(["IMP-1", *(f"IMP-1{n}" for n in range(10))])
