"""Fetching a seed or mask image from a URL, for servers whose admin enabled it.

Only used when STEPWISE_ALLOW_URL_FETCH is on. Every failure becomes an ImageDecodeError whose text
completes the sentence "seedImage ...", so the validator can name the field.

Limits: http(s) only, at most STEPWISE_MAX_UPLOAD_BYTES, STEPWISE_URL_FETCH_TIMEOUT seconds in all,
three redirects, and no addresses inside private networks unless STEPWISE_URL_FETCH_ALLOW_PRIVATE is
set: otherwise any API user could make the server probe the network it sits in.
"""

import ipaddress
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from webapp.studio.images import ImageDecodeError

MAX_REDIRECTS = 3
CHUNK = 64 * 1024


def _setting(name, default):
    return getattr(settings, name, default)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageDecodeError("must be an http or https URL")
    if _setting("STEPWISE_URL_FETCH_ALLOW_PRIVATE", False):
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise ImageDecodeError(f"could not be fetched: unknown host {parts.hostname}") from None
    for info in infos:
        # An IPv4 or IPv6 socket address: its host is a string ("fe80::1%eth0" with a zone).
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise ImageDecodeError(f"could not be fetched: {parts.hostname} is a private or local address")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_image_bytes(url: str) -> bytes:
    """The body at `url`, or ImageDecodeError (too large, too slow, not reachable, not allowed)."""
    limit = settings.STEPWISE_MAX_UPLOAD_BYTES
    timeout = float(_setting("STEPWISE_URL_FETCH_TIMEOUT", 15))
    _check_url(url)
    opener = urllib.request.build_opener(_CheckedRedirects)
    request = urllib.request.Request(url, headers={"User-Agent": "Stepwise image fetch", "Accept": "image/*"})
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise ImageDecodeError(f"is larger than the {limit // (1024 * 1024)} MB limit")
            body = bytearray()
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > limit:
                    raise ImageDecodeError(f"is larger than the {limit // (1024 * 1024)} MB limit")
                if time.monotonic() > deadline:
                    raise ImageDecodeError(f"could not be fetched within {timeout:g} seconds")
            return bytes(body)
    except ImageDecodeError:
        raise
    except urllib.error.HTTPError as exc:
        raise ImageDecodeError(f"could not be fetched: the server answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise ImageDecodeError(f"could not be fetched within {timeout:g} seconds") from None
        raise ImageDecodeError(f"could not be fetched: {reason}") from None
