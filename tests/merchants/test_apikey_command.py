"""``manage.py apikey``: rotating an integrator's key is create, hand over, revoke."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from merchants.models import ApiKey

pytestmark = pytest.mark.django_db
URL = "/api/v1/payment-requests"


def run(*args) -> str:
    out = StringIO()
    call_command("apikey", *args, stdout=out)
    return out.getvalue()


def test_a_key_is_created_used_then_revoked_while_the_new_one_works(client, merchant):
    old = json.loads(run("create", "--merchant", merchant.public_id, "--json"))
    new = json.loads(run("create", "--merchant", merchant.public_id, "--name", "2027", "--json"))
    assert old["secret"].startswith("sk_test_") and old["secret"] != new["secret"]
    for secret in (old["secret"], new["secret"]):
        assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200

    assert "Revoked" in run("revoke", "--merchant", merchant.public_id, "--prefix", old["prefix"])

    refused = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {old['secret']}")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_revoked"
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {new['secret']}").status_code == 200
    listed = json.loads(run("list", "--merchant", merchant.public_id, "--json"))
    by_prefix = {key["prefix"]: key for key in listed}
    assert by_prefix[old["prefix"]]["revoked_at"] and not by_prefix[new["prefix"]]["revoked_at"]
    assert "secret" not in json.dumps(listed) and old["secret"] not in json.dumps(listed)


def test_a_live_key_is_a_live_key(merchant):
    created = json.loads(run("create", "--merchant", merchant.public_id, "--live", "--json"))
    assert created["secret"].startswith("sk_live_")
    assert ApiKey.objects.get(prefix=created["prefix"]).mode == "live"


def test_the_secret_is_printed_once_and_only_its_hash_is_kept(merchant):
    out = run("create", "--merchant", merchant.public_id)
    secret = next(line for line in out.splitlines() if line.startswith("sk_test_"))
    key = ApiKey.objects.get(prefix=secret[:12])
    assert secret not in (key.secret_hash, key.prefix, key.name)
    assert secret not in run("list", "--merchant", merchant.public_id)


def test_another_merchants_key_cannot_be_revoked(merchant, other_merchant):
    theirs = json.loads(run("create", "--merchant", other_merchant.public_id, "--json"))
    with pytest.raises(CommandError, match="No API key"):
        run("revoke", "--merchant", merchant.public_id, "--prefix", theirs["prefix"])
    assert ApiKey.objects.get(prefix=theirs["prefix"]).revoked_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--merchant", "mc_nope"), "No merchant"),
        (("revoke", "--merchant", "{merchant}"), "first 12 characters"),
        (("revoke", "--merchant", "{merchant}", "--prefix", "sk_test"), "first 12 characters"),
        (("revoke", "--merchant", "{merchant}", "--prefix", "sk_test_zzzz"), "No API key"),
        (("create", "--merchant", "{merchant}", "--name", " "), "--name"),
        (("create", "--merchant", "{merchant}", "--name", "n" * 101), "--name"),
    ],
)
def test_bad_arguments_are_refused_clearly(merchant, args, message):
    args = [a.format(merchant=merchant.public_id) for a in args]
    with pytest.raises(CommandError, match=message):
        run(*args)
