"""Where a webhook may go: the SSRF check over every address form that reaches an inside
host, and URLs that cannot be parsed refused at registration and failed at once at send."""

import ipaddress

import pytest

from notifications.channels import TransportError
from notifications.channels.webhook import is_refused_address, resolve_target
from notifications.dispatcher import dispatch_due
from requests_app.services import ParticipantData
from scenarios import services
from scenarios.models import Dispatch, WebhookEndpoint
from tests.factories import make_request
from tests.scenarios.helpers import make_scenario, step


def teredo(server: str, client: str) -> str:
    """A Teredo address: 2001:0::/32, the server's IPv4 in bits 32-63, then flags and port,
    and the client's IPv4 XOR 0xffffffff in the last 32 bits."""
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64)
    value |= int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address(value))


REFUSED = {
    "loopback v4": "127.0.0.1",
    "loopback v4 elsewhere": "127.8.9.10",
    "loopback v6": "::1",
    "private 10/8": "10.1.2.3",
    "private 172.16/12": "172.16.5.4",
    "private 192.168/16": "192.168.0.10",
    "unique local v6": "fd12:3456::1",
    "site local v6": "fec0::1",
    "link local v4": "169.254.1.1",
    "link local v6": "fe80::1",
    "metadata v4": "169.254.169.254",
    "metadata v6 (AWS)": "fd00:ec2::254",
    "CGNAT": "100.64.0.1",
    "CGNAT top": "100.127.255.254",
    "this network": "0.1.2.3",
    "unspecified v4": "0.0.0.0",
    "unspecified v6": "::",
    "multicast v4": "224.0.0.1",
    "multicast v6": "ff02::1",
    "reserved v4": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "documentation v4": "192.0.2.10",
    "documentation v6": "2001:db8::1",
    "benchmarking": "198.18.0.1",
    "IPv4-mapped metadata": "::ffff:169.254.169.254",
    "IPv4-mapped loopback": "::ffff:127.0.0.1",
    "IPv4-mapped private": "::ffff:10.0.0.1",
    "IPv4-mapped CGNAT": "::ffff:100.64.0.1",
    "IPv4-compatible metadata": "::169.254.169.254",
    "IPv4-compatible loopback": "::127.0.0.1",
    "IPv4-compatible private": "::10.0.0.1",
    "6to4 metadata": "2002:a9fe:a9fe::",
    "6to4 loopback": "2002:7f00:1::1",
    "6to4 private": "2002:0a00:0001::",
    "6to4 public": "2002:0808:0808::1",  # refused outright: the relay decides where it goes
    "NAT64 metadata": "64:ff9b::a9fe:a9fe",
    "NAT64 loopback": "64:ff9b::127.0.0.1",
    "NAT64 public": "64:ff9b::8.8.8.8",
    "NAT64 local-use metadata": "64:ff9b:1::a9fe:a9fe",
    "Teredo metadata client": teredo("8.8.8.8", "169.254.169.254"),
    "Teredo loopback server": teredo("127.0.0.1", "8.8.8.8"),
    "Teredo public": teredo("8.8.8.8", "1.1.1.1"),
}

ALLOWED = {
    "public v4": "93.184.216.34",
    "public DNS v4": "1.1.1.1",
    "public v6": "2606:4700:4700::1111",
    "public v6 (Google)": "2a00:1450:4007:80e::200e",
    "IPv4-mapped public": "::ffff:8.8.8.8",
    "just below CGNAT": "100.63.255.255",
    "just above CGNAT": "100.128.0.1",
}


def literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_a_webhook_never_goes_to_an_inside_or_embedded_inside_address(settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert is_refused_address(ipaddress.ip_address(address))
    with pytest.raises(TransportError) as refused:
        resolve_target(f"https://{literal(address)}/hook")
    assert refused.value.permanent


@pytest.mark.parametrize("address", ALLOWED.values(), ids=ALLOWED.keys())
def test_a_webhook_may_go_to_a_public_address(settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert not is_refused_address(ipaddress.ip_address(address))
    scheme, _host, port, ip = resolve_target(f"https://{literal(address)}:8443/hook")
    assert (scheme, port) == ("https", 8443)
    assert ipaddress.ip_address(ip) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "::169.254.169.254",
        "2002:a9fe:a9fe::",
        "64:ff9b::a9fe:a9fe",
        teredo("8.8.8.8", "169.254.169.254"),
        "100.64.0.1",
    ],
)
def test_metadata_and_tunnels_stay_refused_when_private_targets_are_allowed(settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert is_refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1",
        "https://example.com:99999/",
        "https://example.com:0/",
        "https://example.com:port/",
        "https://exa mple.com/",
        "https://example.com/a b",
        "https://example.com/\r\nX-Injected: 1",
        "https://example.com/\x7f",
        "https://" + "a" * 70 + ".example.com/",  # a DNS label is at most 63 characters
        "https://",
        "https:///path",
    ],
)
def test_a_url_that_cannot_be_parsed_is_refused_at_registration(api, url):
    response = api.post("/api/v1/webhook-endpoints", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "invalid_url"
    assert response.json()["error"]["field"] == "url"
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("url", ["https://example.com:99999/", "https://[::1", "https://a b/"])
def test_a_stored_target_that_cannot_be_parsed_fails_at_once_instead_of_staying_sending(
    merchant, settings, url
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    endpoint = services.webhook_endpoint_create(merchant=merchant, url="https://example.com/in")
    # Registered before registration checked it this strictly.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)
    scenario = make_scenario(
        merchant,
        [step("request_created", None, audience="merchant", webhook_endpoint=endpoint.public_id)],
    )
    payment_request = make_request(
        merchant,
        total_amount=1000,
        participants=[ParticipantData(name="A", email="a@example.com", amount=1000)],
    )
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)

    dispatch_due(worker_id="w")

    row = Dispatch.objects.get()
    assert (row.status, row.attempts, row.lease_until) == ("failed", 1, None)
    assert "not a valid" in row.last_error
