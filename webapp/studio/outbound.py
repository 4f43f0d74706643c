"""Sending to a URL a client named: webhook POSTs and uploadEndpoint PUTs.

The same address policy as fetching a seed image from a URL (`webapp/studio/fetch.py`): http(s)
only, and no address inside a private network unless STEPWISE_URL_FETCH_ALLOW_PRIVATE is set;
otherwise any API user could make the server reach into the network it sits in. The address is
checked when the request is validated and again before each attempt (DNS may have changed), and
redirects are not followed (a redirect could lead anywhere).

Each attempt has STEPWISE_OUTBOUND_TIMEOUT seconds; a failed attempt (no answer, or a status that
is not 2xx) is retried STEPWISE_OUTBOUND_RETRIES times, waiting STEPWISE_OUTBOUND_BACKOFF seconds, then twice
that, and so on (at most 30 s).
"""

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from webapp.studio.fetch import checked_address  # the one address policy for URLs a client names
from webapp.studio.images import ImageDecodeError

MAX_URL = 2048


def _setting(name, default):
    return getattr(settings, name, default)


def destination_problem(url) -> str | None:
    """Why `url` cannot receive anything from this server (completing "webhookURL ..."), or None."""
    if not isinstance(url, str) or not url.strip():
        return "must be an http or https URL"
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters long"
    try:
        checked_address(url.strip())
    except ImageDecodeError as exc:
        return str(exc).replace("could not be fetched", "cannot be reached")
    return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is then an HTTPError: not delivered


@dataclass
class Attempt:
    at: str  # ISO time
    status: int | None  # the HTTP status, or None when there was no answer
    error: str  # empty when delivered

    def as_dict(self) -> dict:
        return {"at": self.at, "status": self.status, "error": self.error}


def _attempt(method: str, url: str, body: bytes, content_type: str, timeout: float) -> Attempt:
    at = timezone.now().isoformat()
    problem = destination_problem(url)
    if problem:
        return Attempt(at, None, f"not sent: the URL {problem}")
    request = urllib.request.Request(url, data=body, method=method, headers={
        "Content-Type": content_type, "User-Agent": "Stepwise (Runware-compatible API)"})
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            return Attempt(at, response.status, "")
    except urllib.error.HTTPError as exc:
        return Attempt(at, exc.code, f"the server answered {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Attempt(at, None, f"no answer: {str(reason)[:200]}")


def send(method: str, url: str, body: bytes, *, content_type: str) -> list[Attempt]:
    """Send `body` until a 2xx answer or the retries run out; every attempt, in order."""
    timeout = float(_setting("STEPWISE_OUTBOUND_TIMEOUT", 10))
    retries = int(_setting("STEPWISE_OUTBOUND_RETRIES", 3))
    backoff = float(_setting("STEPWISE_OUTBOUND_BACKOFF", 1.0))
    attempts: list[Attempt] = []
    for number in range(retries + 1):
        if number:
            time.sleep(min(backoff * 2 ** (number - 1), 30))
        attempt = _attempt(method, url, body, content_type, timeout)
        attempts.append(attempt)
        if not attempt.error or attempt.error.startswith("not sent"):
            break
    return attempts
