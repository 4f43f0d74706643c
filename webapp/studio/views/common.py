"""Small helpers the views share."""

from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, fallback):
    """`?next=` (or the posted `next`) when it stays on this site, else `fallback`."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def optional_template(name):
    """A template other code may provide later; None while it does not exist."""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name
