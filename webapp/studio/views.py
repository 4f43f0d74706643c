from django.http import HttpResponse

def _todo(request, *args, **kwargs):
    return HttpResponse("Coming soon")

home = create = job_list = job_detail = job_cancel = gallery = image_detail = image_visibility = image_delete = _todo
account = switch_team = guide = api_docs = _todo
