"""Signed webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).

The target is checked at every send, after DNS resolution, and the connection then goes to
the very address that was checked (no second lookup a rebinding DNS server could answer
differently). Private, loopback, link-local (cloud metadata) and other non-public addresses
are refused, and so is every IPv6 form that carries an IPv4 address (mapped, compatible,
6to4, NAT64, Teredo), which would otherwise smuggle 169.254.169.254 past the check;
WEBHOOK_ALLOW_PRIVATE_TARGETS lets tests reach a stub on 127.0.0.1.
"""

import ipaddress
import json
import socket
from datetime import datetime
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from .base import OutgoingMessage, SendResult, Transport, TransportError

TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0)
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that reach an IPv4 address through a translator or a tunnel: 6to4, NAT64 (the
# well-known and the local-use prefix), Teredo. Which IPv4 they end up at is the relay's
# business, so they are refused outright rather than decoded.
_TUNNELS = tuple(
    ipaddress.ip_network(net)
    for net in ("2002::/16", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32")
)
# Shared address space (carrier-grade NAT) and "this network": not private per Python's
# tables in every version, never a webhook receiver.
_NEVER = tuple(ipaddress.ip_network(net) for net in ("100.64.0.0/10", "0.0.0.0/8"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d) form
    carries; such packets reach that IPv4 host on a dual-stack machine."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_refused_address(address: Address) -> bool:
    """Whether a webhook may not connect to ``address`` (ARCHITECTURE.md guarantee 7)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or any(address in net for net in _TUNNELS):
            return True  # fec0::/10 is deprecated, yet Python still calls it global
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_refused_address(embedded)
    if address in _METADATA or address.is_link_local or address.is_multicast:
        return True
    if address.is_unspecified or address.is_reserved:
        return True
    if any(address in net for net in _NEVER if net.version == address.version):
        return True
    if getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False):
        return False
    return address.is_private or address.is_loopback or not address.is_global


def split_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a webhook URL, or a permanent
    ``TransportError`` for one that cannot be parsed: an unclosed ``[``, a port past 65535,
    whitespace or control characters (which would also split the request line)."""
    if not isinstance(url, str) or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise TransportError(f"not a valid URL: {url!r}", permanent=True)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise TransportError(f"not a valid URL: {url!r} ({exc})", permanent=True) from None
    if parts.scheme not in ("https", "http") or not host:
        raise TransportError(f"not an http(s) URL: {url!r}", permanent=True)
    if port == 0:
        raise TransportError(f"not a valid port in {url!r}", permanent=True)
    try:
        host.encode("idna")
    except UnicodeError as exc:
        raise TransportError(f"not a valid host name in {url!r} ({exc})", permanent=True) from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def resolve_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, ip) for a URL whose every resolved address is public."""
    scheme, host, port, _path = split_target(url)
    if scheme == "http" and not getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False):
        raise TransportError("webhooks go to https:// URLs only", permanent=True)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransportError(f"cannot resolve {host}: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    # Every address must pass: a name that also resolves inward is refused as a whole.
    blocked = [str(a) for a in addresses if is_refused_address(a)]
    if blocked or not addresses:
        raise TransportError(
            f"{host} resolves to a non-public address ({', '.join(blocked)})",
            permanent=True,
        )
    return scheme, host, port, str(addresses[0])


def sign(
    *,
    secret: str,
    message_id: str,
    timestamp: datetime,
    body: str,
    extra_secrets: tuple[str, ...] = (),
) -> dict[str, str]:
    """Standard Webhooks headers. Several secrets give several signatures, space-separated,
    as the specification allows: a receiver accepts the message if any one verifies."""
    signatures = [
        Webhook(key).sign(message_id, timestamp, body) for key in (secret, *extra_secrets)
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


# What an attempt keeps of the receiver's answer: enough to see "502 Bad Gateway" or an
# error message, never a whole page.
EXCERPT_BYTES = 1024
_CONTROL = {c: None for c in range(32) if c not in (9, 10)} | {127: None}


def response_excerpt(data: bytes) -> str:
    """The start of a response body, decoded leniently, without control characters (they
    could forge lines in a log or a terminal)."""
    text = data[:EXCERPT_BYTES].decode("utf-8", errors="replace").translate(_CONTROL)
    return text[:EXCERPT_BYTES]


def _read_excerpt(response) -> str:
    try:
        data = response.read(EXCERPT_BYTES, decode_content=True)
    except Exception:  # a receiver closing mid-body: its status code still counts
        return ""
    finally:
        response.release_conn()
    return response_excerpt(data or b"")


class WebhookTransport(Transport):
    channel = "webhook"

    def send(self, message: OutgoingMessage) -> SendResult:
        scheme, host, port, ip = resolve_target(message.to)
        path = split_target(message.to)[3]
        body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True)
        headers = sign(
            secret=message.secret,
            message_id=message.message_id,
            timestamp=timezone.now(),
            body=body,
            extra_secrets=message.extra_secrets,
        )
        default_port = 443 if scheme == "https" else 80
        headers |= {
            "Content-Type": "application/json",
            "User-Agent": "PushPay-Webhooks/1",
            "Host": host if port == default_port else f"{host}:{port}",
        }
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                ip,
                port,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                timeout=TIMEOUT,
                retries=False,
            )
        else:
            pool = urllib3.HTTPConnectionPool(ip, port, timeout=TIMEOUT, retries=False)
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body.encode(),
                headers=headers,
                redirect=False,
                preload_content=False,
            )
            excerpt = _read_excerpt(response)
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(f"webhook not delivered: {exc}") from exc
        finally:
            pool.close()
        if 200 <= response.status < 300:
            return SendResult(
                provider_message_id=message.message_id,
                status_code=response.status,
                response_excerpt=excerpt,
            )
        # 410 Gone is the receiver saying "stop"; anything else may be temporary.
        raise TransportError(
            f"webhook answered HTTP {response.status}",
            permanent=response.status == 410,
            status_code=response.status,
            response_excerpt=excerpt,
        )
