"""Where a webhook may be delivered: the URL rules and the address policy (SSRF).

A webhook URL is ``http`` or ``https`` with a host. Unless the server runs with
``DAKORA_WEBHOOKS_ALLOW_PRIVATE=true``, the host must resolve only to public
addresses: if ANY address it resolves to is loopback, private, link-local, multicast,
unspecified, reserved or otherwise not global (IPv4, IPv6, and IPv4 addresses carried
inside IPv6: mapped, 6to4, Teredo), the URL is refused. The check runs when a webhook
is added and again at every delivery, and the delivery connects to an address this
check passed (``delivery.py``), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot reach another host. See docs/webhooks.md, "SSRF".
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from dakora.registry.core import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000
PRIVATE_HINT = "set DAKORA_WEBHOOKS_ALLOW_PRIVATE=true on the server to allow it"


class AddressRefused(BadRequest):
    """A webhook host that resolves to an address deliveries may not go to."""

    code = "webhook_address_refused"


@dataclass(frozen=True)
class WebhookUrl:
    """A parsed webhook URL: what to resolve, and the Host header to send."""

    url: str
    scheme: str
    host: str  # without brackets, lower case
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> WebhookUrl:
    """Check the form of a webhook URL (no network); BadRequest naming the problem."""
    text = url.strip()
    if not text:
        raise BadRequest("the webhook URL is empty", parameter="url")
    if len(text) > MAX_URL_LENGTH:
        raise BadRequest(
            f"the webhook URL is longer than {MAX_URL_LENGTH} characters",
            parameter="url",
        )
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise BadRequest(f"webhook URL {text!r}: contains whitespace", parameter="url")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme!r}" if scheme else "none"
        raise BadRequest(
            f"webhook URL {text!r}: the scheme must be http or https, not {shown}",
            parameter="url",
        )
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"webhook URL {text!r}: {exc}", parameter="url") from None
    if not host:
        raise BadRequest(f"webhook URL {text!r}: no host", parameter="url")
    default = 443 if scheme == "https" else 80
    return WebhookUrl(text, scheme, host.lower(), port or default)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why deliveries may not go to ``ip`` (``"loopback"``, ``"private"``, …), or
    None for a public address. An IPv4 address inside IPv6 is judged as itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(inner)
            if problem is not None:
                return f"{problem}, inside IPv6"
            if ip.ipv4_mapped is not None:
                return None  # ::ffff:a.b.c.d is a.b.c.d, which is public
    # the narrow kinds first: Python counts most of them as is_private too
    for name in (
        "loopback",
        "link_local",
        "multicast",
        "unspecified",
        "reserved",
        "private",
    ):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:
        return "not global"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal: itself), in resolver order."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BadRequest(
            f"cannot resolve webhook host {host!r}: {exc}", parameter="url"
        ) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise BadRequest(f"webhook host {host!r} has no address", parameter="url")
    return found


def checked_addresses(target: WebhookUrl, *, allow_private: bool) -> list[IPAddress]:
    """Resolve the URL's host and apply the policy: the addresses a delivery may
    connect to, or AddressRefused when any of them is not public."""
    addresses = resolve(target.host, target.port)
    if allow_private:
        return addresses
    for ip in addresses:
        problem = address_problem(ip)
        if problem is not None:
            raise AddressRefused(
                f"webhook host {target.host!r} resolves to {ip} ({problem}): "
                f"deliveries to non-public addresses are refused; {PRIVATE_HINT}",
                parameter="url",
            )
    return addresses


def check_url(url: str, *, allow_private: bool) -> WebhookUrl:
    """The add-time check: the URL's form, then the address policy."""
    target = parse_url(url)
    checked_addresses(target, allow_private=allow_private)
    return target
