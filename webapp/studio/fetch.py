"""Fetching a seed or mask image from a URL, for servers whose admin enabled it.

Only used when STEPWISE_ALLOW_URL_FETCH is on. Every failure becomes an ImageDecodeError whose text
completes the sentence "seedImage ...", so the validator can name the field.

Limits: http(s) only, at most STEPWISE_MAX_UPLOAD_BYTES, three redirects (each checked like the
first), and no addresses inside private networks unless STEPWISE_URL_FETCH_ALLOW_PRIVATE is set:
otherwise any API user could make the server probe the network it sits in.

Two ways round the limits are closed:
- DNS rebinding. The name is resolved once; the connection goes to the address that was checked
  (TLS still verifies the certificate for the name), never to a second lookup that could answer
  with 127.0.0.1.
- Dripping. STEPWISE_URL_FETCH_TIMEOUT is a deadline for the whole fetch, redirects and headers
  included: a watchdog shuts the socket when it passes, however slowly bytes keep arriving (a socket
  timeout alone only bounds the wait for each byte).

`checked_address(url)` is the address policy on its own, for other outgoing requests.
"""

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from webapp.studio.images import ImageDecodeError

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
REDIRECTS = (301, 302, 303, 307, 308)


def _setting(name, default):
    return getattr(settings, name, default)


@dataclass
class CheckedAddress:
    scheme: str
    host: str  # the name, for the Host header and TLS
    port: int
    target: str  # path and query
    family: int
    sockaddr: tuple  # where to connect: the address that was checked


def checked_address(url: str) -> CheckedAddress:
    """Resolve `url`'s host once and check every address it has; ImageDecodeError when not allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageDecodeError("must be an http or https URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ImageDecodeError("must be an http or https URL with a valid port") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ImageDecodeError(f"could not be fetched: unknown host {parts.hostname}") from None
    if not infos:
        raise ImageDecodeError(f"could not be fetched: unknown host {parts.hostname}")
    if not _setting("STEPWISE_URL_FETCH_ALLOW_PRIVATE", False):
        for info in infos:
            # An IPv4 or IPv6 socket address: its host is a string ("fe80::1%eth0" with a zone).
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if not address.is_global:
                raise ImageDecodeError(f"could not be fetched: {parts.hostname} is a private or local address")
    family, _type, _proto, _name, sockaddr = infos[0]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return CheckedAddress(parts.scheme, parts.hostname, port, target, family, sockaddr)


def _pinned_socket(address: CheckedAddress, timeout: float | None) -> socket.socket:
    sock = socket.socket(address.family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address.sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, address: CheckedAddress, timeout: float):
        super().__init__(address.host, address.port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = _pinned_socket(self.address, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: CheckedAddress, timeout: float):
        super().__init__(address.host, address.port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = _pinned_socket(self.address, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.address.host)  # type: ignore[attr-defined]


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def fetch_image_bytes(url: str) -> bytes:
    """The body at `url`, or ImageDecodeError (too large, too slow, not reachable, not allowed)."""
    limit = settings.STEPWISE_MAX_UPLOAD_BYTES
    timeout = float(_setting("STEPWISE_URL_FETCH_TIMEOUT", 15))
    deadline = time.monotonic() + timeout
    too_slow = ImageDecodeError(f"could not be fetched within {timeout:g} seconds")
    too_large = ImageDecodeError(f"is larger than the {limit // (1024 * 1024)} MB limit")
    for _hop in range(MAX_REDIRECTS + 1):
        address = checked_address(url)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise too_slow
        cls = _PinnedHTTPSConnection if address.scheme == "https" else _PinnedHTTPConnection
        connection = cls(address, timeout=remaining)
        watchdog = threading.Timer(remaining, _shut, args=(connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request("GET", address.target, headers={"User-Agent": "Stepwise image fetch",
                                                               "Accept": "image/*"})
            response = connection.getresponse()
            if response.status in REDIRECTS and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status != 200:
                raise ImageDecodeError(f"could not be fetched: the server answered {response.status}")
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise too_large
            body = bytearray()
            while True:
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > limit:
                    raise too_large
            if time.monotonic() >= deadline:
                raise too_slow  # the watchdog cut the body short
            return bytes(body)
        except ImageDecodeError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if time.monotonic() >= deadline or isinstance(exc, (socket.timeout, TimeoutError)):
                raise too_slow from None
            raise ImageDecodeError(f"could not be fetched: {exc}") from None
        finally:
            watchdog.cancel()
            connection.close()
    raise ImageDecodeError(f"could not be fetched: more than {MAX_REDIRECTS} redirects")
