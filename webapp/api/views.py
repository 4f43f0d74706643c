"""HTTP side of the Runware-compatible API (POST /v1)."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def runware_http(request):
    return JsonResponse({"errors": [{"code": "notImplemented", "message": "The API is being built."}]}, status=501)
