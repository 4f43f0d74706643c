"""HTTP side of the Runware-compatible API (POST /v1), signed upload links, and API-key management."""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import RequestDataTooBig
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from webapp.api import heavy, services
from webapp.api.consumers import PARSE_INLINE_BYTES
from webapp.api.models import ApiKey
from webapp.api.protocol.authentication import Client, authenticate, not_authenticated_error, public_base_url
from webapp.api.protocol.dispatch import parse_tasks, pong, run_task
from webapp.api.protocol.errors import ApiError, error_item
from webapp.api.protocol.image_upload import UPLOAD_SIGNING_SALT
from webapp.api.protocol.results import finished_results, timeout_error
from webapp.studio.models import Upload

NEW_KEY_SESSION_KEY = "stepwise_new_api_key"


def _setting(name, default):
    return getattr(settings, name, default)


def _reply(data, errors, *, status=None) -> JsonResponse:
    body = {}
    if data or not errors:
        body["data"] = data
    if errors:
        body["errors"] = errors
    if status is None:
        if data:
            status = 200
        elif all(e.get("code") in ("invalidApiKey", "missingApiKey") for e in errors):
            status = 401
        else:
            status = 400
    return JsonResponse(body, status=status)


@csrf_exempt
async def runware_http(request):
    """A JSON array of tasks in, `{"data": [...]}` and/or `{"errors": [...]}` out.

    1. Parse the body; authenticate with `Authorization: Bearer KEY` or an authentication task.
    2. Run each task on its own; sync imageInference tasks are collected.
    3. Wait for those jobs (every one at once, up to STEPWISE_API_SYNC_TIMEOUT seconds).
    This view is async so that waiting for a generation never holds a thread.
    """
    if request.method != "POST":
        return _reply([], [error_item("methodNotAllowed", "Send the tasks with POST.")], status=405)
    # 1. Body and key
    try:
        body = request.body
    except RequestDataTooBig:
        return _reply([], [error_item("requestTooLarge", "The request body is too large.",
                                      parameter="request")], status=413)
    try:
        # A large body is parsed in the heavy pool: parsing 40 MB on the event loop stalled every
        # other request for seconds.
        tasks = await heavy.run(parse_tasks, body) if len(body) > PARSE_INLINE_BYTES else parse_tasks(body)
    except ApiError as exc:
        return _reply([], exc.items())
    base_url = public_base_url(request.scheme, request.get_host())
    client = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError("invalidApiKey", "Use the header Authorization: Bearer <API key>.",
                               parameter="apiKey")
            api_key = await sync_to_async(authenticate)({"apiKey": token.strip()})
        except ApiError as exc:
            return _reply([], exc.items({"taskType": "authentication"}))
        client = Client(api_key=api_key, base_url=base_url)

    # 2. Tasks
    data, errors, waits = [], [], []
    for task in tasks:
        if isinstance(task, dict) and task.get("taskType") == "authentication":
            try:
                api_key = await sync_to_async(authenticate)(task)
            except ApiError as exc:
                errors.extend(exc.items(task))
                continue
            client = Client(api_key=api_key, base_url=base_url)
            continue
        if isinstance(task, dict) and task.get("taskType") == "ping":
            data.append(pong(task))
            continue
        if client is None:
            errors.extend(not_authenticated_error().items(task))
            continue
        if isinstance(task, dict) and task.get("taskType") in heavy.HEAVY_TASK_TYPES:
            outcome = await heavy.run(run_task, task, client, push=False)
        else:
            outcome = await sync_to_async(run_task)(task, client, push=False)
        data.extend(outcome.data)
        errors.extend(outcome.errors)
        if outcome.watch is not None:
            waits.append(outcome.watch)

    # 3. Sync results
    if waits:
        timeout = float(_setting("STEPWISE_API_SYNC_TIMEOUT", 600))
        results = await asyncio.gather(*[_wait_for(api_task, base_url=base_url, timeout=timeout) for api_task in waits])
        for items, task_errors in results:
            data.extend(items)
            errors.extend(task_errors)
    return _reply(data, errors)


async def _wait_for(api_task, *, base_url, timeout):
    deadline = time.monotonic() + timeout
    interval = 0.2
    while True:
        result = await sync_to_async(finished_results)(api_task.id, base_url=base_url)
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            return [], [timeout_error(api_task, timeout)]
        await asyncio.sleep(interval)
        interval = min(1.0, interval * 1.5)


# Signed links to uploads (imageUpload's imageURL) -------------------------------------------------


@require_GET
def signed_upload_file(request, token):
    try:
        data = signing.loads(token, salt=UPLOAD_SIGNING_SALT,
                             max_age=settings.STEPWISE_SIGNED_URL_SECONDS)
    except signing.SignatureExpired:
        return HttpResponse("This link has expired.", status=410, content_type="text/plain")
    except signing.BadSignature:
        raise Http404("Unknown link.") from None
    upload = get_object_or_404(Upload, id=data["u"])
    try:
        handle = upload.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The file is gone.") from None
    response = FileResponse(handle, content_type=upload.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response


# API keys on the account page ---------------------------------------------------------------------


@require_POST
@login_required
def api_key_create(request):
    name = request.POST.get("name", "").strip()[:100]
    key, raw = services.api_key_create(user=request.user, name=name)
    # Shown once, on the next page view, then forgotten: only the hash is stored.
    request.session[NEW_KEY_SESSION_KEY] = {"id": key.id, "key": raw}
    messages.success(request, f"API key {key.prefix}… created. Copy it now: it will not be shown again.")
    return redirect(reverse("account") + "#api-keys")


@require_POST
@login_required
def api_key_revoke(request, key_id):
    key = get_object_or_404(ApiKey, id=key_id, user=request.user)
    services.api_key_revoke(key=key)
    messages.success(request, f"API key {key.prefix}… revoked: clients using it are refused from now on.")
    return redirect(reverse("account") + "#api-keys")
