"""Response headers that settings.py cannot set on its own: the Content Security Policy.

Django 5.2 has no CSP support (6.0 adds it). The policy is one setting, STEPWISE_CSP; the pages
pass it with no inline scripts (tests/test_security.py checks the templates, and the browser tests
fail on any violation Chromium reports). Inline style attributes stay allowed: templates use a few,
and styles cannot run code.
"""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.STEPWISE_CSP
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
