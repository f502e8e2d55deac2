"""Signed webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).

The target is checked at every send, after DNS resolution, and the connection then goes to
the very address that was checked (no second lookup a rebinding DNS server could answer
differently). Private, loopback, link-local (cloud metadata) and other non-public addresses
are refused; WEBHOOK_ALLOW_PRIVATE_TARGETS lets tests reach a stub on 127.0.0.1.
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


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in _METADATA or address.is_link_local or address.is_multicast:
        return True
    if address.is_unspecified or address.is_reserved:
        return True
    if getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False):
        return False
    return address.is_private or address.is_loopback or not address.is_global


def resolve_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, ip) for a URL whose every resolved address is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TransportError(f"not an http(s) URL: {url!r}", permanent=True)
    if parts.scheme == "http" and not getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False):
        raise TransportError("webhooks go to https:// URLs only", permanent=True)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransportError(f"cannot resolve {parts.hostname}: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    # Every address must pass: a name that also resolves inward is refused as a whole.
    blocked = [str(a) for a in addresses if _refused(a)]
    if blocked or not addresses:
        raise TransportError(
            f"{parts.hostname} resolves to a non-public address ({', '.join(blocked)})",
            permanent=True,
        )
    return parts.scheme, parts.hostname, port, str(addresses[0])


def sign(*, secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


class WebhookTransport(Transport):
    channel = "webhook"

    def send(self, message: OutgoingMessage) -> SendResult:
        scheme, host, port, ip = resolve_target(message.to)
        parts = urlsplit(message.to)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True)
        headers = sign(
            secret=message.secret,
            message_id=message.message_id,
            timestamp=timezone.now(),
            body=body,
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
                "POST", path, body=body.encode(), headers=headers, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(f"webhook not delivered: {exc}") from exc
        finally:
            pool.close()
        if 200 <= response.status < 300:
            return SendResult(provider_message_id=message.message_id)
        # 410 Gone is the receiver saying "stop"; anything else may be temporary.
        raise TransportError(
            f"webhook answered HTTP {response.status}", permanent=response.status == 410
        )
